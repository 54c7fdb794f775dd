"""The vendor descriptor readers: OpsLevel, Backstage, Cortex and Datadog.

The full examples follow each vendor's documented examples; the error cases pin the
file, line and key path a user sees.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import yaml

from opsgrade.engine.descriptors import FILE_NAMES, reader
from opsgrade.engine.descriptors.backstage import owner_name
from opsgrade.engine.errors import ConfigError
from opsgrade.engine.model import Service, Tool
from opsgrade.engine.yamlio import load_documents

PATHS = {
    "opsgrade": "svc/opsgrade.yml",
    "opslevel": "svc/opslevel.yml",
    "backstage": "svc/catalog-info.yaml",
    "cortex": "svc/cortex.yaml",
    "datadog": "svc/service.datadog.yaml",
}


def read(fmt: str, text: str) -> list[Service]:
    path = PATHS[fmt]
    return reader(fmt)(load_documents(text, path), path, "svc")


def read_one(fmt: str, text: str) -> Service:
    services = read(fmt, text)
    assert len(services) == 1
    return services[0]


def error(fmt: str, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        read(fmt, text)
    assert info.value.where is not None
    assert info.value.where.file == PATHS[fmt]
    return info.value


def line(text: str, needle: str, after: int = 0) -> int:
    """1-based number of the first line (after line `after`) that contains `needle`."""
    for number, content in enumerate(text.splitlines(), start=1):
        if number > after and needle in content:
            return number
    raise AssertionError(f"{needle!r} not in text")


def assert_common(service: Service, fmt: str) -> None:
    assert service.root == "svc"
    assert service.descriptor == PATHS[fmt]
    assert service.descriptor_format == fmt


# --------------------------------------------------------------------------- OpsLevel

OPSLEVEL_FULL = """\
# Managed by the checkout team; synced to OpsLevel on merge.
version: 1
service:
  name: Shopping Cart
  description: Stores and prices the items a shopper is about to buy.
  owner: checkout_team
  lifecycle: generally_available
  tier: tier_1
  product: storefront
  language: Ruby
  framework: Rails
  system: checkout
  aliases:
    - shopping-cart
    - cart_service
  tags:
    - key: environment
      value: production
    - key: pci
      value: true
    - key: port
      value: 8080
    - legacy
  tools:
    - name: Production Dashboard
      category: metrics
      url: https://app.datadoghq.com/dashboard/abc-123
      environment: production
    - name: Runbook
      category: runbooks
      url: https://wiki.example.com/cart/runbook
  repositories:
    - name: github.com:example/shopping-cart
      path: "/"
      provider: github
  dependencies:
    - alias: payments
    - name: inventory
    - tax-calculator
"""


def test_opslevel_full_example() -> None:
    service = read_one("opslevel", OPSLEVEL_FULL)
    assert_common(service, "opslevel")
    assert service.name == "Shopping Cart"
    assert service.description == "Stores and prices the items a shopper is about to buy."
    assert service.owner == "checkout_team"
    assert service.lifecycle == "generally_available"
    assert service.tier == 1
    assert service.language == "Ruby"
    assert service.framework == "Rails"
    assert service.system == "checkout"
    assert service.tags == ("environment:production", "pci:true", "port:8080", "legacy")
    assert service.tools == (
        Tool(
            "Production Dashboard",
            "metrics",
            "https://app.datadoghq.com/dashboard/abc-123",
            "production",
        ),
        Tool("Runbook", "runbook", "https://wiki.example.com/cart/runbook"),
    )
    assert service.dependencies == ("payments", "inventory", "tax-calculator")
    assert service.waivers == ()
    text = OPSLEVEL_FULL
    assert service.field_lines == {
        "name": line(text, "  name: Shopping Cart"),
        "description": line(text, "  description:"),
        "owner": line(text, "  owner:"),
        "lifecycle": line(text, "  lifecycle:"),
        "tier": line(text, "  tier:"),
        "language": line(text, "  language:"),
        "framework": line(text, "  framework:"),
        "system": line(text, "  system:"),
        "tags": line(text, "  tags:"),
        "tools": line(text, "  tools:"),
        "dependencies": line(text, "  dependencies:"),
    }
    assert service.raw["service"]["product"] == "storefront"
    assert service.raw["version"] == 1


def test_opslevel_minimal() -> None:
    service = read_one("opslevel", "version: 1\nservice:\n  name: cart\n")
    assert_common(service, "opslevel")
    assert service.name == "cart"
    assert (service.owner, service.tier, service.tags, service.tools) == (None, None, (), ())
    assert service.field_lines == {"name": 3}


def test_opslevel_component_block_and_quoted_version() -> None:
    text = 'version: "1"\ncomponent:\n  name: cart\n  type: service\n  owner: team_a\n'
    service = read_one("opslevel", text)
    assert (service.name, service.owner) == ("cart", "team_a")
    assert service.field_lines == {"name": 3, "owner": 5}


def test_opslevel_repository_only_file_declares_no_service() -> None:
    text = "version: 1\nrepository:\n  owner: platform\n  tier: tier_2\n"
    assert read("opslevel", text) == []


def test_opslevel_unknown_tier_alias_is_no_tier() -> None:
    text = "version: 1\nservice:\n  name: cart\n  tier: mission_critical\n"
    assert read_one("opslevel", text).tier is None


@pytest.mark.parametrize(
    ("text", "lineno", "key", "words"),
    [
        ("service:\n  name: cart\n", 1, "version", "missing `version`"),
        ("# c\nversion: 2\nservice:\n  name: cart\n", 2, "version", "unsupported"),
        ("version: true\nservice:\n  name: cart\n", 1, "version", "unsupported"),
        ("version: 1\n", 1, "service", "missing `service`"),
        ("version: 1\nservice: 3\n", 2, "service", "expected `object`, got `int`"),
        ("version: 1\nservice:\n", 2, "service", "got `null`"),
        ("version: 1\nservice:\n  owner: x\n", 2, "service", "missing required key `name`"),
        ("version: 1\nservice:\n  name: ''\n", 3, "service.name", "length"),
        ("version: 1\nservice:\n  name: '  '\n", 2, "service", "blank"),
        ("version: 1\nservice:\n  name: [a]\n", 3, "service.name", "expected `str`"),
        ("version: 1\nservice:\n  name: a\n  owner: 42\n", 4, "service.owner", "got `int`"),
        ("version: 1\nservice:\n  name: a\n  tier: [1]\n", 4, "service.tier", "got `array`"),
        ("version: 1\nservice:\n  name: a\n  tags: x\n", 4, "service.tags", "`array`"),
        (
            "version: 1\nservice:\n  name: a\n  tags:\n    - [x]\n",
            5,
            "service.tags[0]",
            "got `array`",
        ),
        (
            "version: 1\nservice:\n  name: a\n  tags:\n    - value: b\n",
            5,
            "service.tags[0]",
            "missing required key `key`",
        ),
        (
            "version: 1\nservice:\n  name: a\n  tools:\n    name: x\n",
            4,
            "service.tools",
            "`array`",
        ),
        (
            "version: 1\nservice:\n  name: a\n  tools:\n    - name: x\n      category: logs\n",
            5,
            "service.tools[0]",
            "missing required key `url`",
        ),
        (
            "version: 1\nservice:\n  name: a\n  dependencies:\n    - {}\n",
            5,
            "service.dependencies[0]",
            "`alias` or `name`",
        ),
    ],
)
def test_opslevel_errors(text: str, lineno: int, key: str, words: str) -> None:
    exc = error("opslevel", text)
    assert exc.where is not None
    assert (exc.where.line, exc.where.key) == (lineno, key)
    assert words in exc.message


def test_opslevel_dependency_error_line_points_into_the_list() -> None:
    text = "version: 1\nservice:\n  name: a\n  dependencies:\n    - ok\n    - {}\n"
    exc = error("opslevel", text)
    assert exc.where is not None
    assert (exc.where.line, exc.where.key) == (6, "service.dependencies[1]")


# --------------------------------------------------------------------------- Backstage

BACKSTAGE_FULL = """\
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: checkout
spec:
  owner: group:default/checkout-team
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments-api
  title: Payments API
  description: Authorizes and captures card payments.
  tags:
    - java
    - payments
  annotations:
    github.com/project-slug: example/payments-api
    pagerduty.com/service-id: PABC123
    opsgrade.dev/tier: "tier-1"
    opsgrade.dev/language: java
  links:
    - url: https://grafana.example.com/d/payments
      title: Payments dashboard
      icon: dashboard
      type: dashboard
    - url: https://wiki.example.com/payments/runbook
      title: Runbook
    - url: https://docs.example.com/payments
      title: API reference
      icon: docs
spec:
  type: service
  lifecycle: production
  owner: group:default/payments-team
  system: checkout
  dependsOn:
    - resource:default/payments-db
    - component:fraud-check
  providesApis:
    - payments-api
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: payments-api
spec:
  type: openapi
  lifecycle: production
  owner: payments-team
  definition:
    $text: ./openapi.yaml
---
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: payments-extras
spec:
  targets:
    - ./docs/catalog-info.yaml
"""


def test_backstage_full_example_with_mixed_kinds() -> None:
    service = read_one("backstage", BACKSTAGE_FULL)
    assert_common(service, "backstage")
    assert service.name == "payments-api"
    assert service.description == "Authorizes and captures card payments."
    assert service.owner == "payments-team"
    assert service.lifecycle == "production"
    assert service.tier == 1
    assert service.language == "java"
    assert service.framework is None
    assert service.system == "checkout"
    assert service.tags == ("java", "payments")
    assert service.tools == (
        Tool("Payments dashboard", "dashboard", "https://grafana.example.com/d/payments"),
        Tool("Runbook", "runbook", "https://wiki.example.com/payments/runbook"),
        Tool("API reference", "docs", "https://docs.example.com/payments"),
    )
    assert service.dependencies == ("resource:default/payments-db", "component:fraud-check")
    text = BACKSTAGE_FULL
    start = line(text, "kind: Component")
    assert service.field_lines == {
        "name": line(text, "  name: payments-api", start),
        "description": line(text, "  description:", start),
        "owner": line(text, "  owner: group:default/payments-team", start),
        "lifecycle": line(text, "  lifecycle:", start),
        "tier": line(text, "opsgrade.dev/tier", start),
        "language": line(text, "opsgrade.dev/language", start),
        "tags": line(text, "  tags:", start),
        "tools": line(text, "  links:", start),
        "system": line(text, "  system:", start),
        "dependencies": line(text, "  dependsOn:", start),
    }
    assert service.raw["kind"] == "Component"
    assert service.raw["spec"]["providesApis"] == ["payments-api"]


def test_backstage_minimal() -> None:
    text = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: web\n"
    service = read_one("backstage", text)
    assert_common(service, "backstage")
    assert service.name == "web"
    assert (service.owner, service.tier, service.lifecycle, service.tools) == (None, None, None, ())
    assert service.field_lines == {"name": 4}


def test_backstage_two_components_are_two_services() -> None:
    text = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: web
spec:
  type: website
  lifecycle: production
  owner: web-team
---
# The worker lives in the same repository.
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: worker
  tags: [python]
spec:
  type: service
  lifecycle: experimental
  owner: user:default/jdoe
---
"""
    web, worker = read("backstage", text)
    assert (web.name, web.owner, web.lifecycle) == ("web", "web-team", "production")
    assert (worker.name, worker.owner, worker.lifecycle) == (
        "worker",
        "user:default/jdoe",
        "experimental",
    )
    assert worker.tags == ("python",)
    assert web.field_lines == {"name": 4, "owner": 8, "lifecycle": 7}
    assert worker.field_lines == {"name": 14, "tags": 15, "owner": 19, "lifecycle": 18}
    assert web.raw["metadata"]["name"] == "web"
    assert worker.raw["metadata"]["name"] == "worker"


def test_backstage_file_without_components_has_no_service() -> None:
    text = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: payments-team
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: more
spec:
  targets: [./a.yaml]
"""
    assert read("backstage", text) == []
    assert read("backstage", "") == []


@pytest.mark.parametrize(
    ("ref", "owner"),
    [
        ("payments-team", "payments-team"),
        ("group:payments-team", "payments-team"),
        ("group:default/payments-team", "payments-team"),
        ("Group:default/payments-team", "payments-team"),
        ("default/payments-team", "payments-team"),
        ("group:finance/payments-team", "finance/payments-team"),
        ("user:default/jdoe", "user:default/jdoe"),
        ("user:jdoe", "user:jdoe"),
    ],
)
def test_backstage_owner_refs(ref: str, owner: str) -> None:
    assert owner_name(ref) == owner


def test_backstage_unknown_tier_word_is_no_tier() -> None:
    text = (
        "kind: Component\nmetadata:\n  name: web\n  annotations:\n    opsgrade.dev/tier: critical\n"
    )
    assert read_one("backstage", text).tier is None


COMPONENT_HEAD = "apiVersion: backstage.io/v1alpha1\nkind: Component\n"


@pytest.mark.parametrize(
    ("body", "lineno", "key", "words"),
    [
        ("spec:\n  owner: a\n", 1, "", "missing required key `metadata`"),
        ("metadata:\n  title: Web\n", 3, "metadata", "missing required key `name`"),
        ("metadata:\n  name: 3\n", 4, "metadata.name", "expected `str`, got `int`"),
        ("metadata: web\n", 3, "metadata", "expected `object`"),
        ("metadata:\n  name: w\n  tags: x\n", 5, "metadata.tags", "`array`"),
        ("metadata:\n  name: w\n  links: x\n", 5, "metadata.links", "`array`"),
        (
            "metadata:\n  name: w\n  links:\n    - title: Docs\n",
            6,
            "metadata.links[0]",
            "missing required key `url`",
        ),
        (
            "metadata:\n  name: w\n  annotations:\n    opsgrade.dev/tier: 1\n",
            6,
            "metadata.annotations.opsgrade.dev/tier",
            "expected `str`, got `int`",
        ),
        ("metadata:\n  name: w\nspec: 3\n", 5, "spec", "got `int`"),
        ("metadata:\n  name: w\nspec:\n  owner: [a]\n", 6, "spec.owner", "got `array`"),
        ("metadata:\n  name: w\nspec:\n  dependsOn: db\n", 6, "spec.dependsOn", "`array`"),
    ],
)
def test_backstage_errors(body: str, lineno: int, key: str, words: str) -> None:
    exc = error("backstage", COMPONENT_HEAD + body)
    assert exc.where is not None
    assert (exc.where.line, exc.where.key) == (lineno, key)
    assert words in exc.message


def test_backstage_error_is_located_in_its_own_document() -> None:
    text = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: fine
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: broken
  tags: not-a-list
"""
    exc = error("backstage", text)
    assert exc.where is not None
    assert (exc.where.line, exc.where.key) == (10, "metadata.tags")


def test_backstage_document_that_is_not_a_mapping() -> None:
    text = "kind: Component\nmetadata:\n  name: web\n---\n- a\n- b\n"
    exc = error("backstage", text)
    assert exc.where is not None
    assert exc.where.line == 5
    assert "mapping" in exc.message


# --------------------------------------------------------------------------- Cortex

CORTEX_FULL = """\
openapi: 3.0.1
info:
  title: Braavos
  description: Ingests partner data feeds.
  x-cortex-tag: braavos
  x-cortex-type: service
  x-cortex-owners:
    - type: email
      email: data-oncall@example.com
      description: Pager alias
    - type: group
      name: data-platform
      provider: CORTEX
  x-cortex-groups:
    - tier-1
    - python
  x-cortex-link:
    - name: Runbook
      type: runbook
      url: https://wiki.example.com/braavos/runbook
    - name: Service dashboard
      type: dashboard
      url: https://grafana.example.com/d/braavos
    - name: API docs
      type: documentation
      url: https://docs.example.com/braavos
    - name: Log search
      type: logs
      url: https://logs.example.com/?q=braavos
  x-cortex-dependency:
    - tag: iron-bank
      method: GET
      path: /2.0/accounts
    - tag: ravens
  x-cortex-custom-metadata:
    tier: 1
    lifecycle:
      value: production
      description: Serving customers since 2021
    language: python
    cost-center: 4711
paths:
  /feeds:
    get:
      responses:
        200:
          description: OK
"""


def test_cortex_full_example() -> None:
    service = read_one("cortex", CORTEX_FULL)
    assert_common(service, "cortex")
    assert service.name == "braavos"
    assert service.description == "Ingests partner data feeds."
    assert service.owner == "data-platform"
    assert service.tier == 1
    assert service.lifecycle == "production"
    assert service.language == "python"
    assert service.framework is None
    assert service.system is None
    assert service.tags == ("tier-1", "python")
    assert service.tools == (
        Tool("Runbook", "runbook", "https://wiki.example.com/braavos/runbook"),
        Tool("Service dashboard", "dashboard", "https://grafana.example.com/d/braavos"),
        Tool("API docs", "docs", "https://docs.example.com/braavos"),
        Tool("Log search", "logs", "https://logs.example.com/?q=braavos"),
    )
    assert service.dependencies == ("iron-bank", "ravens")
    text = CORTEX_FULL
    assert service.field_lines == {
        "name": line(text, "x-cortex-tag:"),
        "description": line(text, "  description: Ingests"),
        "owner": line(text, "x-cortex-owners:"),
        "tier": line(text, "    tier: 1"),
        "lifecycle": line(text, "    lifecycle:"),
        "language": line(text, "    language: python"),
        "tags": line(text, "x-cortex-groups:"),
        "tools": line(text, "x-cortex-link:"),
        "dependencies": line(text, "x-cortex-dependency:"),
    }
    assert service.raw["info"]["title"] == "Braavos"


def test_cortex_minimal() -> None:
    service = read_one("cortex", "openapi: 3.0.1\ninfo:\n  title: Web\n  x-cortex-tag: web\n")
    assert_common(service, "cortex")
    assert service.name == "web"
    assert (service.owner, service.tier, service.tags, service.tools) == (None, None, (), ())
    assert service.field_lines == {"name": 4}


def test_cortex_owner_falls_back_to_email() -> None:
    text = """\
info:
  x-cortex-tag: web
  x-cortex-owners:
    - type: slack
      channel: web-team
    - type: EMAIL
      email: web@example.com
"""
    assert read_one("cortex", text).owner == "web@example.com"


@pytest.mark.parametrize(
    "custom",
    [
        "{tier: [1], lifecycle: {stage: prod}, language: 3}",
        "{tier: high, lifecycle: null}",
        "{}",
    ],
)
def test_cortex_free_form_custom_metadata_is_never_an_error(custom: str) -> None:
    text = f"info:\n  x-cortex-tag: web\n  x-cortex-custom-metadata: {custom}\n"
    service = read_one("cortex", text)
    assert (service.tier, service.lifecycle, service.language) == (None, None, None)


@pytest.mark.parametrize(
    ("text", "lineno", "key", "words"),
    [
        ("openapi: 3.0.1\npaths: {}\n", 1, "info", "missing `info`"),
        ("openapi: 3.0.1\ninfo: braavos\n", 2, "info", "expected `object`"),
        ("info:\n  title: Braavos\n", 1, "info", "missing required key `x-cortex-tag`"),
        ("info:\n  x-cortex-tag: 7\n", 2, "info.x-cortex-tag", "expected `str`"),
        ("info:\n  x-cortex-tag: ' '\n", 1, "info", "blank"),
        ("info:\n  x-cortex-tag: a\n  description: [x]\n", 3, "info.description", "got `array`"),
        (
            "info:\n  x-cortex-tag: a\n  x-cortex-groups: python\n",
            3,
            "info.x-cortex-groups",
            "`array`",
        ),
        (
            "info:\n  x-cortex-tag: a\n  x-cortex-owners:\n    type: group\n",
            3,
            "info.x-cortex-owners",
            "`array`",
        ),
        (
            "info:\n  x-cortex-tag: a\n  x-cortex-link:\n    - name: Docs\n      type: docs\n",
            4,
            "info.x-cortex-link[0]",
            "missing required key `url`",
        ),
        (
            "info:\n  x-cortex-tag: a\n  x-cortex-dependency:\n    - iron-bank\n",
            4,
            "info.x-cortex-dependency[0]",
            "expected `object`",
        ),
        (
            "info:\n  x-cortex-tag: a\n  x-cortex-custom-metadata: [tier]\n",
            3,
            "info.x-cortex-custom-metadata",
            "expected `object`",
        ),
    ],
)
def test_cortex_errors(text: str, lineno: int, key: str, words: str) -> None:
    exc = error("cortex", text)
    assert exc.where is not None
    assert (exc.where.line, exc.where.key) == (lineno, key)
    assert words in exc.message


# --------------------------------------------------------------------------- Datadog

DATADOG_FULL = """\
schema-version: v2.2
dd-service: shopping-cart
team: e-commerce
description: Holds shoppers' carts until checkout.
tier: "1"
lifecycle: production
application: storefront
languages:
  - go
  - python
type: web
contacts:
  - name: Team channel
    type: slack
    contact: https://example.slack.com/archives/C0123
links:
  - name: Cart runbook
    type: runbook
    url: https://runbooks.example.com/cart
  - name: Architecture
    type: doc
    provider: gdoc
    url: https://docs.example.com/cart-architecture
  - name: Source
    type: repo
    provider: github
    url: https://github.com/example/cart
  - name: Cart overview
    type: dashboard
    url: https://app.datadoghq.com/dashboard/cart
tags:
  - business-unit:retail
  - cost-center:engineering
integrations:
  pagerduty:
    service-url: https://example.pagerduty.com/service-directory/PCART01
  opsgenie:
    service-url: https://example.app.opsgenie.com/service/123
    region: US
extensions:
  example.com/cart:
    rotation: weekly
"""


def test_datadog_full_example() -> None:
    service = read_one("datadog", DATADOG_FULL)
    assert_common(service, "datadog")
    assert service.name == "shopping-cart"
    assert service.description == "Holds shoppers' carts until checkout."
    assert service.owner == "e-commerce"
    assert service.tier == 1
    assert service.lifecycle == "production"
    assert service.language == "go"
    assert service.framework is None
    assert service.system == "storefront"
    assert service.tags == ("business-unit:retail", "cost-center:engineering")
    assert service.tools == (
        Tool("Cart runbook", "runbook", "https://runbooks.example.com/cart"),
        Tool("Architecture", "docs", "https://docs.example.com/cart-architecture"),
        Tool("Source", "repository", "https://github.com/example/cart"),
        Tool("Cart overview", "dashboard", "https://app.datadoghq.com/dashboard/cart"),
        Tool("PagerDuty", "oncall", "https://example.pagerduty.com/service-directory/PCART01"),
        Tool("Opsgenie", "oncall", "https://example.app.opsgenie.com/service/123"),
    )
    assert service.dependencies == ()
    text = DATADOG_FULL
    assert service.field_lines == {
        "name": line(text, "dd-service:"),
        "description": line(text, "description:"),
        "owner": line(text, "team:"),
        "tier": line(text, "tier:"),
        "lifecycle": line(text, "lifecycle:"),
        "language": line(text, "languages:"),
        "system": line(text, "application:"),
        "tags": line(text, "tags:"),
        "tools": line(text, "links:"),
    }
    assert service.raw["extensions"]["example.com/cart"] == {"rotation": "weekly"}


def test_datadog_minimal() -> None:
    service = read_one("datadog", "schema-version: v2.1\ndd-service: cart\n")
    assert_common(service, "datadog")
    assert service.name == "cart"
    assert (service.owner, service.tier, service.tags, service.tools) == (None, None, (), ())
    assert service.field_lines == {"name": 2}


def test_datadog_v2_repos_docs_and_pagerduty_url() -> None:
    text = """\
schema-version: v2
dd-service: delivery-api
team: distribution
links:
  - name: Demo Dashboard
    type: dashboard
    url: https://app.datadoghq.com/dashboard/krp
repos:
  - name: Source
    provider: github
    url: https://github.com/example/delivery
docs:
  - name: Handbook
    provider: link
    url: https://docs.example.com/delivery
tags: []
integrations:
  pagerduty: https://example.pagerduty.com/service-directory/PXZ
"""
    service = read_one("datadog", text)
    assert service.owner == "distribution"
    assert service.tools == (
        Tool("Demo Dashboard", "dashboard", "https://app.datadoghq.com/dashboard/krp"),
        Tool("Source", "repository", "https://github.com/example/delivery"),
        Tool("Handbook", "docs", "https://docs.example.com/delivery"),
        Tool("PagerDuty", "oncall", "https://example.pagerduty.com/service-directory/PXZ"),
    )
    assert service.field_lines["tools"] == 4


@pytest.mark.parametrize(("tier", "expected"), [("high", None), ("1", 1), ("tier-2", 2), (3, 3)])
def test_datadog_tier_words_are_no_tier(tier: object, expected: int | None) -> None:
    text = f"schema-version: v2.2\ndd-service: cart\ntier: {tier}\n"
    assert read_one("datadog", text).tier == expected


def test_datadog_pagerduty_only_tools_line() -> None:
    text = (
        "schema-version: v2.2\ndd-service: cart\nintegrations:\n"
        "  pagerduty:\n    service-url: https://x.pagerduty.com/service-directory/P1\n"
    )
    service = read_one("datadog", text)
    assert [t.category for t in service.tools] == ["oncall"]
    assert service.field_lines["tools"] == 3


@pytest.mark.parametrize(
    ("text", "lineno", "key", "words"),
    [
        ("dd-service: cart\n", 1, "schema-version", "missing `schema-version`"),
        ("schema-version: v1\ndd-service: cart\n", 1, "schema-version", "unsupported"),
        ("# v3\nschema-version: v3\ndd-service: cart\n", 2, "schema-version", "unsupported"),
        ("schema-version: 2.2\ndd-service: cart\n", 1, "schema-version", "unsupported"),
        (
            "apiVersion: v3\nkind: service\nmetadata:\n  name: cart\n",
            1,
            "schema-version",
            "v3",
        ),
        ("schema-version: v2.2\nteam: web\n", 1, "", "missing required key `dd-service`"),
        ("schema-version: v2.2\ndd-service: 12\n", 2, "dd-service", "expected `str`"),
        ("schema-version: v2.2\ndd-service: ''\n", 2, "dd-service", "length"),
        ("schema-version: v2.2\ndd-service: a\nteam: 5\n", 3, "team", "got `int`"),
        ("schema-version: v2.2\ndd-service: a\ntier: [1]\n", 3, "tier", "got `array`"),
        ("schema-version: v2.2\ndd-service: a\nlanguages: go\n", 3, "languages", "`array`"),
        ("schema-version: v2.2\ndd-service: a\ntags:\n  - 1\n", 4, "tags[0]", "`str`"),
        ("schema-version: v2.2\ndd-service: a\nlinks: x\n", 3, "links", "`array`"),
        (
            "schema-version: v2.2\ndd-service: a\nlinks:\n  - name: x\n    type: doc\n",
            4,
            "links[0]",
            "missing required key `url`",
        ),
        (
            "schema-version: v2.2\ndd-service: a\nintegrations:\n  pagerduty: 3\n",
            4,
            "integrations.pagerduty",
            "got `int`",
        ),
    ],
)
def test_datadog_errors(text: str, lineno: int, key: str, words: str) -> None:
    exc = error("datadog", text)
    assert exc.where is not None
    assert (exc.where.line, exc.where.key) == (lineno, key)
    assert words in exc.message


# --------------------------------------------------------------------------- all formats

MINIMAL = {
    "opsgrade": "name: cart\n",
    "opslevel": "version: 1\nservice:\n  name: cart\n",
    "backstage": "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: cart\n",
    "cortex": "openapi: 3.0.1\ninfo:\n  x-cortex-tag: cart\n",
    "datadog": "schema-version: v2.2\ndd-service: cart\n",
}
FULL = {
    "opslevel": OPSLEVEL_FULL,
    "backstage": BACKSTAGE_FULL,
    "cortex": CORTEX_FULL,
    "datadog": DATADOG_FULL,
}


def test_every_file_name_has_a_working_reader() -> None:
    assert set(MINIMAL) == set(FILE_NAMES.values())
    for fmt in sorted(set(FILE_NAMES.values())):
        service = read_one(fmt, MINIMAL[fmt])
        assert service.name == "cart"
        assert_common(service, fmt)
        assert service.field_lines["name"] >= 1
        assert service.raw


@pytest.mark.parametrize("fmt", ["opslevel", "cortex", "datadog"])
@pytest.mark.parametrize("text", ["", "just a string\n", "- a\n- b\n", "a: 1\n---\nb: 2\n"])
def test_single_document_formats_refuse_other_shapes(fmt: str, text: str) -> None:
    exc = error(fmt, text)
    assert exc.where is not None
    assert exc.where.line >= 1


DESCRIPTIONS = {
    "opslevel": "Stores and prices the items a shopper is about to buy.",
    "backstage": "Authorizes and captures card payments.",
    "cortex": "Ingests partner data feeds.",
    "datadog": "Holds shoppers' carts until checkout.",
}


@pytest.mark.parametrize("fmt", sorted(FULL))
def test_untrusted_strings_are_stored_as_written(fmt: str) -> None:
    hostile = "<script>alert(1)</script> | *bold* `code` \u202e ${{ secrets.X }}"
    text = FULL[fmt].replace(DESCRIPTIONS[fmt], json.dumps(hostile))
    assert read_one(fmt, text).description == hostile


JUNK: list[Any] = [None, 3, 1.5, True, "x", "", [1, "a"], {"k": [None]}, dt.date(2024, 1, 2)]


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside `data`, parents before children."""
    if isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, list):
        items = list(enumerate(data))
    else:
        return []
    found: list[tuple[Any, ...]] = []
    for key, value in items:
        found.append((*prefix, key))
        found.extend(_paths(value, (*prefix, key)))
    return found


def _replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        return {k: _replaced(v, rest, value) if k == head else v for k, v in data.items()}
    return [_replaced(v, rest, value) if i == head else v for i, v in enumerate(data)]


@pytest.mark.parametrize("fmt", sorted(FULL))
def test_any_value_anywhere_gives_a_service_or_a_located_error(fmt: str) -> None:
    """Swap every value of the full example for junk: never anything but a ConfigError."""
    originals = [d.data for d in load_documents(FULL[fmt], PATHS[fmt])]
    for index, original in enumerate(originals):
        for path in _paths(original):
            for junk in JUNK:
                docs = list(originals)
                docs[index] = _replaced(original, path, junk)
                text = yaml.safe_dump_all(docs, sort_keys=False)
                try:
                    services = read(fmt, text)
                except ConfigError as exc:
                    assert exc.where is not None
                    assert exc.where.file == PATHS[fmt]
                    assert exc.where.line >= 1
                    continue
                for service in services:
                    assert isinstance(service.name, str)
                    assert service.name.strip()
                    for value in (service.owner, service.description, service.lifecycle):
                        assert value is None or isinstance(value, str)
                    assert all(isinstance(t, str) for t in service.tags)
                    assert all(isinstance(d, str) for d in service.dependencies)
                    assert service.tier is None or isinstance(service.tier, int)
