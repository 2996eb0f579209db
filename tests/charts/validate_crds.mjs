// Validates ServiceMonitor and PrometheusRule objects against the prometheus-operator CRD schemas, with
// the validators the npm package @kubernetes-models/prometheus-operator generates from those CRDs
// (installed by `make chart-tools` under .tools/node). Reads a JSON array of objects on stdin; prints one
// line per object; exits 1 if any is invalid.
//   node tests/charts/validate_crds.mjs <modules dir> < objects.json
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
const base = join(modules, "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1");
const kinds = {
  ServiceMonitor: (await import(pathToFileURL(join(base, "ServiceMonitor.js")).href)).ServiceMonitor,
  PrometheusRule: (await import(pathToFileURL(join(base, "PrometheusRule.js")).href)).PrometheusRule,
};
const objects = JSON.parse(readFileSync(0, "utf8"));
let failed = 0;
for (const object of objects) {
  const name = `${object.kind}/${object.metadata?.name}`;
  const Model = kinds[object.kind];
  if (object.apiVersion !== "monitoring.coreos.com/v1" || !Model) {
    console.log(`INVALID ${name}: not a monitoring.coreos.com/v1 ServiceMonitor or PrometheusRule`);
    failed++;
    continue;
  }
  try {
    new Model(object).validate();
    console.log(`VALID ${name}`);
  } catch (error) {
    console.log(`INVALID ${name}: ${error.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
