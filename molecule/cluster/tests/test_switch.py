"""The runtime switch of cluster nodes, through the API server (tests run in order, after
test_cluster.py; each starts from where the previous one left the cluster).

A Deployment of two replicas (spread over the nodes that take pods) with a PodDisruptionBudget
of minAvailable 1 runs on the workers. w1 goes containerd -> CRI-O with both replicas on it:
the drain's second eviction waits for the budget. A rolling switch of both workers to
containerd fails on w1 (a broken handler through a host variable): w1 rolls back and is
uncordoned, w2 is never touched. w2 goes CRI-O -> containerd. The switch refuses w1 when it is
the last node that takes pods (w2 cordoned) and changes nothing; with
runtime_switch_drain_last_node=true it goes ahead (w1 back to containerd). Downtime (cordon to
Ready on the new runtime) and pod disruption (time with fewer than two replicas available) go
to results/cluster-switch.json.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest
import testinfra
import yaml
from chaintest import PROJECT, SNAPSHOT, inventory, resolve_contract, run_playbook
from test_cluster import RUNTIME_NAMES

APP = "kubenode-proof"
REPLICAS = 2
FIGURES = PROJECT / "results" / "cluster-switch.json"


@pytest.fixture(scope="module")
def contracts():
    return resolve_contract()


@pytest.fixture(scope="module")
def workers():
    return {name: testinfra.get_host(f"ansible://{name}", ansible_inventory=str(inventory())) for name in ("w1", "w2")}


@pytest.fixture(scope="module")
def nodes(workers) -> dict[str, str]:
    """Inventory name -> Node name (kubeadm names a Node after the hostname)."""
    return {name: host.check_output("hostname").lower() for name, host in workers.items()}


@pytest.fixture(scope="module")
def apps(kubeconfig):
    from kubernetes import client, config

    return client.AppsV1Api(config.new_client_from_config(str(kubeconfig)))


@pytest.fixture(scope="module")
def figures():
    data: dict = {}
    yield data
    if data:
        FIGURES.write_text(json.dumps({"measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **data}, indent=2) + "\n")


def wait(what, predicate, timeout=600, delay=2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(delay)


def pods_by_node(core, nodes) -> dict[str, int]:
    """Running, Ready, not terminating pods of the Deployment, counted per worker (inventory name)."""
    inventory_name = {node: name for name, node in nodes.items()}
    counts: dict[str, int] = {}
    for pod in core.list_namespaced_pod("default", label_selector=f"app={APP}").items:
        ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        if pod.metadata.deletion_timestamp is None and pod.status.phase == "Running" and ready:
            name = inventory_name.get(pod.spec.node_name, pod.spec.node_name)
            counts[name] = counts.get(name, 0) + 1
    return counts


def cordon(core, name, on=True):
    core.patch_node(name, {"spec": {"unschedulable": True if on else None}})


def node_state(core, name) -> dict:
    node = core.read_node(name)
    return {"runtime": node.status.node_info.container_runtime_version, "unschedulable": bool(node.spec.unschedulable),
            "ready": {c.type: c.status for c in node.status.conditions}["Ready"],
            "annotations": {k: v for k, v in (node.metadata.annotations or {}).items() if "cri-socket" in k}}


class Availability:
    """Samples the Deployment's available replicas every half second while a switch runs."""

    def __init__(self, apps):
        self.apps, self.samples, self._stop = apps, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            status = self.apps.read_namespaced_deployment_status(APP, "default").status
            self.samples.append((time.monotonic(), status.available_replicas or 0))
            self._stop.wait(0.5)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def minimum(self) -> int:
        return min(n for _, n in self.samples)

    @property
    def below_seconds(self) -> float:
        """Seconds with fewer than REPLICAS available."""
        return round(sum(t1 - t0 for (t0, n), (t1, _) in zip(self.samples, self.samples[1:]) if n < REPLICAS), 1)


def switch(tmp_path, kubeconfig, target, hosts, *extra):
    rc, output = run_playbook("switch_runtime.yml", "-e", f"runtime_switch_to={target}", "-e", f"runtime_switch_kubeconfig={kubeconfig}",
                              "-e", f"kubenode_hosts={hosts}", "-e", f"runtime_switch_report_dir={tmp_path}", *extra)
    reports = {json.loads(p.read_text())["host"]: json.loads(p.read_text()) for p in sorted(tmp_path.glob("runtime-switch-*.json"))}
    return rc, output, reports


def assert_node_on(core, worker, contract, name, runtime):
    """The Node is Ready and uncordoned on ``runtime``, and kubeadm's node-local record and
    kubelet's configuration name its socket."""
    state = node_state(core, name)
    assert state["ready"] == "True" and not state["unschedulable"], state
    assert state["runtime"].startswith(f"{RUNTIME_NAMES[runtime]}://"), state
    endpoint = contract["endpoints"][runtime]
    assert set(state["annotations"].values()) <= {endpoint}, state
    instance = yaml.safe_load(worker.file(contract["kubelet_instance_config"]).content_string)
    assert instance["containerRuntimeEndpoint"] == endpoint
    assert yaml.safe_load(worker.file(contract["kubelet_kubeadm_config"]).content_string)["containerRuntimeEndpoint"] == endpoint


def test_a_deployment_with_a_disruption_budget_runs_on_w1(core, nodes, apps, contracts):
    """Both replicas on w1 (w2 cordoned while they schedule), then w2 takes pods again."""
    from kubernetes import client

    apps.delete_collection_namespaced_deployment("default", label_selector=f"app={APP}")
    client.PolicyV1Api(core.api_client).delete_collection_namespaced_pod_disruption_budget("default", label_selector=f"app={APP}")
    wait("no pod of an earlier run", lambda: not core.list_namespaced_pod("default", label_selector=f"app={APP}").items)
    cordon(core, nodes["w2"])
    try:
        container = client.V1Container(
            name="proof", image=contracts["w1"]["test_image"], image_pull_policy="Always",
            command=["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"])
        spread = client.V1TopologySpreadConstraint(
            max_skew=1, topology_key="kubernetes.io/hostname", when_unsatisfiable="DoNotSchedule",
            node_taints_policy="Honor", label_selector=client.V1LabelSelector(match_labels={"app": APP}))
        apps.create_namespaced_deployment("default", client.V1Deployment(
            metadata=client.V1ObjectMeta(name=APP, labels={"app": APP}),
            spec=client.V1DeploymentSpec(
                replicas=REPLICAS, selector=client.V1LabelSelector(match_labels={"app": APP}),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels={"app": APP}),
                    spec=client.V1PodSpec(containers=[container], termination_grace_period_seconds=5,
                                          topology_spread_constraints=[spread])))))
        client.PolicyV1Api(core.api_client).create_namespaced_pod_disruption_budget("default", client.V1PodDisruptionBudget(
            metadata=client.V1ObjectMeta(name=APP, labels={"app": APP}),
            spec=client.V1PodDisruptionBudgetSpec(min_available=1, selector=client.V1LabelSelector(match_labels={"app": APP}))))
        wait("both replicas Running on w1", lambda: pods_by_node(core, nodes) == {"w1": REPLICAS})
    finally:
        cordon(core, nodes["w2"], on=False)


def test_w1_containerd_to_crio_drains_within_the_budget(core, nodes, apps, workers, contracts, kubeconfig, tmp_path, figures):
    """The drain evicts one replica, waits (HTTP 429 from the budget) until its replacement runs
    on w2, then evicts the other: never fewer than one available. w1 comes back Ready on CRI-O,
    uncordoned, with kubeadm's record and kubelet's configuration on CRI-O's socket."""
    with Availability(apps) as availability:
        rc, output, reports = switch(tmp_path, kubeconfig, "crio", "w1")
    assert rc == 0, output[-5000:]
    assert "RETRYING: [w1 -> localhost]: Cordon and drain the node" in " ".join(output.split()), "the budget never held an eviction back"
    assert availability.minimum >= 1, availability.samples
    assert pods_by_node(core, nodes) == {"w2": REPLICAS}
    assert_node_on(core, workers["w1"], contracts["w1"], nodes["w1"], "crio")
    report = reports["w1"]
    assert report["result"] == "switched" and report["cordoned_seconds"] >= report["downtime_seconds"] > 0, report
    figures["containerd_to_crio"] = {"node": "w1", "cordon_to_ready_seconds": report["cordoned_seconds"],
                                     "kubelet_down_seconds": report["downtime_seconds"],
                                     "fewer_than_replicas_seconds": availability.below_seconds, "min_available": availability.minimum}


def test_the_deployment_schedules_onto_w1_again(core, nodes, apps):
    """A restart of the Deployment spreads its pods over both workers: w1 takes pods on CRI-O."""
    apps.patch_namespaced_deployment(APP, "default", {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}}}})
    wait("one replica on each worker", lambda: pods_by_node(core, nodes) == {"w1": 1, "w2": 1})


def test_a_rolling_switch_stops_at_the_first_node_that_fails(core, nodes, workers, contracts, kubeconfig, tmp_path):
    """serial 1, max_fail_percentage 0: w1 is given a containerd handler whose binary does not
    exist (a host variable), fails verification, rolls back to CRI-O and is uncordoned; w2 is
    never touched."""
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump({"all": {"hosts": {"w1": {"containerd_runtime_handlers": {"runc": "/nonexistent/runc"}}}}}))
    before = workers["w2"].run_expect([0], SNAPSHOT).stdout, node_state(core, nodes["w2"])
    rc, output, reports = switch(tmp_path, kubeconfig, "containerd", "kubenode_workers", "-i", str(broken),
                                 "-e", "kubenode_switch_serial=1", "-e", "kubenode_switch_max_fail_percentage=0")
    assert rc != 0
    assert "Rolled back: crio runs again and its chain verified, and the node is uncordoned" in " ".join(output.split()), output[-5000:]
    assert set(reports) == {"w1"} and reports["w1"]["result"] == "rolled back", reports
    assert_node_on(core, workers["w1"], contracts["w1"], nodes["w1"], "crio")
    assert (workers["w2"].run_expect([0], SNAPSHOT).stdout, node_state(core, nodes["w2"])) == before
    assert re.search(r"^w2\s+:\s+ok=", output, re.M) is None, "w2 ran in the rolling switch"
    wait("two replicas available again", lambda: sum(pods_by_node(core, nodes).values()) == REPLICAS)


def test_w2_crio_to_containerd(core, nodes, apps, workers, contracts, kubeconfig, tmp_path, figures):
    """The other direction, on the other worker: its replicas move to w1 and come back after."""
    wait("a replica on w2", lambda: pods_by_node(core, nodes).get("w2"), timeout=120)
    with Availability(apps) as availability:
        rc, output, reports = switch(tmp_path, kubeconfig, "containerd", "w2")
    assert rc == 0, output[-5000:]
    assert availability.minimum >= 1, availability.samples
    assert pods_by_node(core, nodes) == {"w1": REPLICAS}
    assert_node_on(core, workers["w2"], contracts["w2"], nodes["w2"], "containerd")
    report = reports["w2"]
    figures["crio_to_containerd"] = {"node": "w2", "cordon_to_ready_seconds": report["cordoned_seconds"],
                                     "kubelet_down_seconds": report["downtime_seconds"],
                                     "fewer_than_replicas_seconds": availability.below_seconds, "min_available": availability.minimum}


def test_the_last_node_that_takes_pods_is_refused_then_drained_on_request(core, nodes, workers, contracts, kubeconfig, tmp_path):
    """w2 cordoned (the control plane is tainted NoSchedule): switching w1 is refused before any
    change, in check mode too; with runtime_switch_drain_last_node=true it goes ahead, and the
    replicas wait Pending until w1 takes pods again on containerd."""
    cordon(core, nodes["w2"])
    try:
        before = workers["w1"].run_expect([0], SNAPSHOT).stdout, node_state(core, nodes["w1"]), pods_by_node(core, nodes)
        for extra in ((), ("--check",)):
            rc, output, reports = switch(tmp_path, kubeconfig, "containerd", "w1", *extra)
            assert rc != 0 and f"{nodes['w1']} is the last node that takes pods" in " ".join(output.split()), output[-3000:]
            assert not reports
            assert (workers["w1"].run_expect([0], SNAPSHOT).stdout, node_state(core, nodes["w1"]), pods_by_node(core, nodes)) == before
        rc, output, reports = switch(tmp_path, kubeconfig, "containerd", "w1", "-e", "runtime_switch_drain_last_node=true")
        assert rc == 0, output[-5000:]
        assert_node_on(core, workers["w1"], contracts["w1"], nodes["w1"], "containerd")
        wait("the replicas back on w1", lambda: pods_by_node(core, nodes) == {"w1": REPLICAS})
    finally:
        cordon(core, nodes["w2"], on=False)


def test_a_cluster_node_is_not_switched_without_a_kubeconfig(workers, tmp_path):
    """Without runtime_switch_kubeconfig a joined node is refused (it would lose its pods
    behind the API server's back), and nothing changes."""
    before = workers["w2"].run_expect([0], SNAPSHOT).stdout
    rc, output = run_playbook("switch_runtime.yml", "-e", "runtime_switch_to=crio", "-e", "kubenode_hosts=w2",
                              "-e", f"runtime_switch_report_dir={tmp_path}")
    assert rc != 0 and "switching it without a drain" in " ".join(output.split()), output[-3000:]
    assert workers["w2"].run_expect([0], SNAPSHOT).stdout == before
    assert not list(Path(tmp_path).glob("runtime-switch-*.json"))
