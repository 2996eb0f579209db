from __future__ import annotations

import pytest

from services.estimation.cross_check import count_function_points, cross_check
from services.estimation.models import RepoFacts

REQUIREMENTS = """# Online shop

## Features
- Users can register and log in
- Customers browse the product catalog and search products
- Customers add products to a cart and place an order
- Pay with Stripe
- Admins see a sales report and export it to CSV
- Email an order confirmation
- Store customer profiles

```
- this bullet is inside a code block
```

## Non-functional requirements
- Pages load in under 200 ms

## Out of scope
- Create a mobile app
### Later
- Export to the ERP
"""

# 2 inputs x 4 + 2 outputs x 5 + 1 inquiry x 4 + 1 internal file x 10 + 1 interface file x 7
FP_HOURS = 2.94 * (39 * 50 / 1000) ** (0.91 + 0.01 * 18.97) * 152


def test_function_points_are_counted_from_the_requirement_bullets() -> None:
    fp = count_function_points(REQUIREMENTS)

    assert (fp.external_inputs, fp.external_outputs, fp.external_inquiries) == (2, 2, 1)
    assert (fp.internal_logical_files, fp.external_interface_files) == (1, 1)
    assert fp.unadjusted_fp == 39


def test_prose_is_counted_when_there_are_no_bullets() -> None:
    fp = count_function_points("# App\n\nUsers upload photos. Friends comment on them. Admins export a report.")

    assert (fp.external_inputs, fp.external_outputs) == (2, 1)


def test_close_figures_are_consistent() -> None:
    check = cross_check(REQUIREMENTS, None, FP_HOURS * 1.2)

    assert check.verdict == "consistent"
    [method] = check.methods
    assert method.hours == pytest.approx(FP_HOURS, abs=0.1)
    assert method.difference_pct == 20.0
    assert "39 UFP" in method.basis


@pytest.mark.parametrize(("factor", "side"), [(1.5, "higher"), (0.5, "lower")])
def test_distant_figures_ask_for_review(factor: float, side: str) -> None:
    check = cross_check(REQUIREMENTS, None, FP_HOURS * factor)

    assert check.verdict == "review"
    assert f"50% {side}" in check.summary


def test_repository_size_gives_a_basic_cocomo_reference() -> None:
    repo = RepoFacts(full_name="acme/shop", languages={"Python": 28_000, "HTML": 7_000}, size_kb=900)

    check = cross_check(REQUIREMENTS, repo, FP_HOURS)

    repo_method = check.methods[1]
    assert repo_method.hours == 364.8  # 35,000 bytes / 35 = 1 KLOC; 2.4 person-months x 152 h
    assert repo_method.verdict == "review"
    assert check.verdict == "consistent"
    assert "acme/shop" in check.summary


def test_a_repository_without_language_data_is_not_sized() -> None:
    check = cross_check(REQUIREMENTS, RepoFacts(full_name="acme/empty", size_kb=5000), FP_HOURS)

    assert [m.method for m in check.methods] == ["function_points_cocomo2"]


def test_requirements_without_functions_cannot_confirm_anything() -> None:
    check = cross_check("# Notes\n\n## Non-functional\n- Fast", None, 100)

    assert check.methods == []
    assert check.verdict == "review"
