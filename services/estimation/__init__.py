"""The estimation domain: Claude judges (work items, ranges, risks), code calculates everything else."""
