"""The `kubernetes` and `helm` facts, extracted from small repositories on disk."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from opsgrade.engine.facts import EvalContext, FactError
from opsgrade.engine.packtest import materialize
from opsgrade.engine.repoview import WorkTreeView
from opsgrade.engine.services import anchor_for, assign_files, discover


def context(root: Path, files: dict[str, str]) -> EvalContext:
    materialize({path: textwrap.dedent(text) for path, text in files.items()}, root)
    view = WorkTreeView(root)
    found = discover(view, "repo")
    service = found.services[0]
    own = assign_files(found.services, view.files())[service.root]
    return EvalContext(service, own, view, anchor_for(service, own))


def workloads(tmp_path: Path, files: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = context(tmp_path / "repo", files).facts.get("kubernetes")
    return found


def charts(tmp_path: Path, files: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = context(tmp_path / "repo", files).facts.get("helm")
    return found


DEPLOYMENT = """\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: cart
      namespace: shop
    spec:
      template:
        spec:
          initContainers:
            - name: migrate
              image: ghcr.io/acme/migrate:2
          containers:
            - name: cart
              image: ghcr.io/acme/cart:1.4.2
              livenessProbe:
                httpGet: {path: /healthz, port: 8080}
              readinessProbe:
                httpGet: {path: /readyz, port: 8080}
              resources:
                requests: {cpu: 250m, memory: 256Mi}
                limits: {memory: 512Mi}
            - name: sidecar
              image: envoyproxy/envoy:v1.31.0
              startupProbe:
                tcpSocket: {port: 9901}
              resources:
                limits: {cpu: 1}
    """


def test_deployment_workload_and_containers(tmp_path: Path) -> None:
    (found,) = workloads(tmp_path, {"deploy/cart.yaml": DEPLOYMENT})
    assert {k: found[k] for k in ("api_version", "kind", "name", "namespace", "path", "line")} == {
        "api_version": "apps/v1",
        "kind": "Deployment",
        "name": "cart",
        "namespace": "shop",
        "path": "deploy/cart.yaml",
        "line": 2,
    }
    assert found["templated"] is False and found["patch"] is False
    cart, sidecar = found["containers"]
    assert cart == {
        "name": "cart",
        "image": "ghcr.io/acme/cart:1.4.2",
        "path": "deploy/cart.yaml",
        "line": 13,
        "liveness_probe": True,
        "readiness_probe": True,
        "startup_probe": False,
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": None, "memory": "512Mi"},
        },
    }
    assert sidecar["line"] == 22
    assert (sidecar["liveness_probe"], sidecar["readiness_probe"]) == (False, False)
    assert sidecar["startup_probe"] is True
    assert sidecar["resources"]["limits"] == {"cpu": "1", "memory": None}
    assert [c["name"] for c in found["init_containers"]] == ["migrate"]


def test_multi_document_file_and_kind_list(tmp_path: Path) -> None:
    files = {
        "k8s/all.yml": """\
            apiVersion: v1
            kind: Service
            metadata: {name: cart}
            ---
            apiVersion: apps/v1
            kind: StatefulSet
            metadata: {name: db}
            spec:
              template:
                spec:
                  containers:
                    - {name: db, image: "postgres:16"}
            ---
            apiVersion: v1
            kind: List
            items:
              - apiVersion: v1
                kind: Pod
                metadata: {name: debug}
                spec:
                  containers:
                    - {name: shell, image: "busybox:1.36"}
              - apiVersion: apps/v1
                kind: DaemonSet
                metadata: {name: agent}
                spec:
                  template:
                    spec:
                      containers:
                        - {name: agent, image: "datadog/agent:7"}
            """,
    }
    found = workloads(tmp_path, files)
    assert [(w["kind"], w["name"], w["line"]) for w in found] == [
        ("StatefulSet", "db", 6),
        ("Pod", "debug", 17),
        ("DaemonSet", "agent", 23),
    ]
    assert [w["containers"][0]["line"] for w in found] == [12, 22, 30]


def test_cronjob_pod_spec_is_nested_in_the_job_template(tmp_path: Path) -> None:
    files = {
        "cron.yaml": """\
            apiVersion: batch/v1
            kind: CronJob
            metadata: {name: cleanup}
            spec:
              schedule: "0 3 * * *"
              jobTemplate:
                spec:
                  template:
                    spec:
                      containers:
                        - name: cleanup
                          image: ghcr.io/acme/cleanup:1.0.0
                          resources:
                            requests: {memory: 64Mi}
            """,
    }
    (found,) = workloads(tmp_path, files)
    (container,) = found["containers"]
    assert (found["kind"], container["name"], container["line"]) == ("CronJob", "cleanup", 11)
    assert container["resources"]["requests"] == {"cpu": None, "memory": "64Mi"}


def test_helm_template_that_is_not_yaml_is_recorded_as_templated(tmp_path: Path) -> None:
    files = {
        "chart/Chart.yaml": "apiVersion: v2\nname: cart\nversion: 0.3.0\nappVersion: '1.4.2'\n",
        "chart/templates/deployment.yaml": """\
            {{- if .Values.enabled }}
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: {{ include "cart.fullname" . }}
            spec:
              template:
                spec:
                  containers:
                    - name: cart
                      livenessProbe:
                        {{- toYaml .Values.livenessProbe | nindent 12 }}
            {{- end }}
            """,
    }
    (found,) = workloads(tmp_path, files)
    assert found["templated"] is True
    assert (found["kind"], found["path"], found["line"]) == (
        "Deployment",
        "chart/templates/deployment.yaml",
        3,
    )
    assert found["containers"] == []


def test_template_that_parses_is_still_marked_templated(tmp_path: Path) -> None:
    files = {
        "deploy/pod.yaml": """\
            apiVersion: v1
            kind: Pod
            metadata: {name: "{{ name }}"}
            spec:
              containers:
                - {name: app, image: "{{ image }}"}
            """,
    }
    (found,) = workloads(tmp_path, files)
    assert found["templated"] is True
    assert found["containers"][0]["image"] == "{{ image }}"


def test_kustomize_patches_are_marked(tmp_path: Path) -> None:
    files = {
        "k8s/base/deployment.yaml": DEPLOYMENT,
        "k8s/overlays/prod/kustomization.yaml": """\
            resources: [../../base]
            patchesStrategicMerge: [replicas.yaml]
            patches:
              - path: ../../patches/env.yaml
              - patch: "inline"
            """,
        "k8s/overlays/prod/replicas.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: cart}\nspec: {replicas: 3}\n"
        ),
        "k8s/patches/env.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: cart}\n"
            "spec: {template: {spec: {containers: [{name: cart}]}}}\n"
        ),
    }
    found = {w["path"]: w["patch"] for w in workloads(tmp_path, files)}
    assert found == {
        "k8s/base/deployment.yaml": False,
        "k8s/overlays/prod/replicas.yaml": True,
        "k8s/patches/env.yaml": True,
    }


def test_malformed_manifest_is_a_located_error(tmp_path: Path) -> None:
    files = {
        "k8s/ok.yaml": DEPLOYMENT,
        "k8s/broken.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: [cart\n",
    }
    with pytest.raises(FactError) as caught:
        workloads(tmp_path, files)
    assert caught.value.location is not None
    assert caught.value.location.path == "k8s/broken.yaml"
    assert caught.value.location.line >= 4
    assert "invalid YAML" in caught.value.message


def test_alias_bomb_is_refused_with_a_located_error(tmp_path: Path) -> None:
    lines = ["apiVersion: v1", "kind: Pod", 'a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(10))}]" for i in range(1, 8)]
    with pytest.raises(FactError) as caught:
        workloads(tmp_path, {"bomb.yaml": "\n".join(lines) + "\n"})
    assert caught.value.location is not None and caught.value.location.path == "bomb.yaml"


def test_other_yaml_is_ignored_even_when_broken(tmp_path: Path) -> None:
    files = {
        ".github/workflows/ci.yml": "on: push\njobs: {test: {runs-on: ubuntu-latest}}\n",
        "docker-compose.yml": "services:\n  web: [unclosed\n",
        "catalog-info.yaml": (
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: cart}\n"
        ),
        "k8s/service.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: cart}\n",
        "k8s/broken-service.yaml": "apiVersion: v1\nkind: Service\nmetadata: [cart\n",
        "opsgrade.yml": "apiVersion: opsgrade/v1\nkind: Service\nname: cart\nowner: [x\n",
    }
    assert workloads(tmp_path, files) == []


def test_helm_charts(tmp_path: Path) -> None:
    files = {
        "deploy/chart/Chart.yaml": (
            "apiVersion: v2\nname: cart\nversion: 0.3.0\nappVersion: '1.4.2'\n"
        ),
        "deploy/chart/values.yaml": """\
            image: {repository: ghcr.io/acme/cart}
            livenessProbe:
              httpGet: {path: /healthz, port: http}
            resources: {}
            """,
        "deploy/chart/templates/deployment.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"
            "spec:\n  template:\n    spec:\n      containers:\n        - name: cart\n"
            "          readinessProbe:\n"
            "            {{- toYaml .Values.readinessProbe | nindent 12 }}\n"
        ),
        "deploy/chart/templates/_helpers.tpl": '{{- define "cart.name" -}}cart{{- end }}\n',
        "deploy/chart/templates/NOTES.txt": "Thanks for installing.\n",
        "deploy/chart/charts/common/Chart.yaml": (
            "apiVersion: v2\nname: common\nversion: 2.0.0\ntype: library\n"
        ),
    }
    found = charts(tmp_path, files)
    assert found == [
        {
            "name": "cart",
            "version": "0.3.0",
            "app_version": "1.4.2",
            "api_version": "v2",
            "path": "deploy/chart/Chart.yaml",
            "line": 1,
            "type": "application",
            "templates": 2,
            "workloads": 1,
            # liveness from values.yaml, readiness from the template; `resources: {}`
            # sets nothing.
            "probes": {"liveness": True, "readiness": True},
            "resources": False,
        },
        {
            "name": "common",
            "version": "2.0.0",
            "app_version": None,
            "api_version": "v2",
            "path": "deploy/chart/charts/common/Chart.yaml",
            "line": 1,
            "type": "library",
            "templates": 0,
            "workloads": 0,
            "probes": {"liveness": False, "readiness": False},
            "resources": False,
        },
    ]


def test_broken_chart_file_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(FactError) as caught:
        charts(tmp_path, {"Chart.yaml": "name: [cart\n"})
    assert caught.value.location is not None and caught.value.location.path == "Chart.yaml"


def test_no_manifests_no_facts(tmp_path: Path) -> None:
    files = {"README.md": "# cart\n", "src/app.py": "print(1)\n"}
    assert workloads(tmp_path, files) == []
    assert charts(tmp_path / "b", files) == []
