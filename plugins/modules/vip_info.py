#!/usr/bin/python
# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vip_info
short_description: Read VIP placement, keepalived state, drain and nginx health on one load-balancer node
version_added: 0.1.0
description:
  - Reports which VIPs the node holds now, from C(ip -j addr) (the ground truth).
  - Reports keepalived's VRRP instances (state, VRID, base and effective priority) from the
    best source the node offers, and says which source was used.
  - Reports keepalived's version, whether keepalived runs, the drain file value
    (C(/var/lib/halb-pair/drain)) and the answer of nginx's health endpoint
    (status, latency, C(X-HALB-Node) header).
  - Reports the node's IPVS (LVS) virtual servers and their real servers from C(/proc/net/ip_vs), or null when
    the C(ip_vs) kernel module is not loaded (a node without LVS).
  - Never changes anything. Asking keepalived for a JSON or data dump makes it write
    C(/tmp/keepalived.json) or C(/tmp/keepalived.data); the module removes that file before the
    signal and after reading it (it holds the VRRP password), and reads it only when it is a
    regular file owned by root written after the signal, never through a link.
  - Signals only keepalived's own process - the pid file must be a regular root-owned file and name
    a live process called keepalived running the keepalived binary as root. A stale pid file whose
    pid another program reuses reports keepalived not running, and that program is never signalled.
  - Never returns the VRRP password; it is removed from the dumps before they are parsed, so a
    malformed item quoted in RV(source_errors) cannot hold it either.
author:
  - halb.pair contributors (@halb-pair)
attributes:
  check_mode:
    support: full
    description: Runs unchanged in check mode; it only reads.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
options:
  vips:
    description:
      - VIPs to look for in C(ip -j addr), as C(198.51.100.100) or C(198.51.100.100/24).
      - The VIPs keepalived reports for its instances (JSON and data dumps) are looked for too.
    type: list
    elements: str
    default: []
  source:
    description:
      - Where to read keepalived's instance states from.
      - V(auto) uses the JSON dump when keepalived runs and its build has JSON, else the
        state feed written by the halb.pair notify script, else the data dump.
      - V(json) and V(data) signal keepalived (C(keepalived --signum=JSON|DATA)) and read the
        file it writes into O(dump_dir). V(feed) reads O(state_dir); its priorities are the
        ones at the last transition.
      - A named source that cannot be read fails the module; V(auto) reports the failures in
        RV(source_errors) and goes on.
    type: str
    choices: [auto, feed, json, data]
    default: auto
  dump_timeout:
    description: Seconds to wait for keepalived to write a fresh dump after the signal.
    type: float
    default: 3.0
  state_dir:
    description: The state feed directory, one file per instance.
    type: path
    default: /var/lib/halb-pair/state
  health_url:
    description:
      - nginx's health endpoint, requested from the node itself without proxy.
      - Set to an empty string to skip the request.
    type: str
    default: http://127.0.0.1:8081/healthz
  health_timeout:
    description: Seconds to wait for the health endpoint.
    type: float
    default: 2.0
notes:
  - Needs root on the node (the collection's playbooks set C(become)); it signals
    keepalived (a root process) for its JSON or data dump.
  - Use the filter C(halb.pair.pair_status) over the results of all nodes to judge placement
    (ok, split_brain, orphan, misplaced); C(playbooks/status.yml) does.
seealso:
  - module: halb.pair.vrrp_failover
extends_documentation_fragment:
  - halb.pair.keepalived_node
"""

EXAMPLES = r"""
- name: Read the node's VIPs, keepalived state, drain value and nginx health
  halb.pair.vip_info:
    vips:
      - 198.51.100.100/24
      - 198.51.100.101/24
  register: node

- name: Show what the node holds and which source keepalived's states came from
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }} holds {{ node.held_vips }} (states from {{ node.source }})"

- name: Read only the state feed, without signalling keepalived
  halb.pair.vip_info:
    source: feed
    health_url: ""
"""

RETURN = r"""
held_vips:
  description: The VIPs (from O(vips) and from keepalived's instances) the node holds now, per C(ip -j addr).
  returned: always
  type: list
  elements: str
  sample: ["198.51.100.100"]
vips:
  description: Every VIP looked for, whether it is present and where.
  returned: always
  type: list
  elements: dict
  sample:
    - {address: 198.51.100.100, present: true, cidr: 198.51.100.100/24, dev: eth0, label: "eth0:1"}
    - {address: 198.51.100.101, present: false, cidr: null, dev: null, label: null}
addresses:
  description: Interface name to the CIDRs of scope global on it (loopback and link-local left out).
  returned: always
  type: dict
  sample: {eth0: ["198.51.100.11/24", "198.51.100.100/24"]}
source:
  description: The source the instance states were read from; null when none could be read.
  returned: always
  type: str
  sample: json
source_errors:
  description: Why the sources tried before RV(source), or all of them, failed.
  returned: always
  type: list
  elements: str
  sample: []
instances:
  description:
    - keepalived's VRRP instances as the source reports them.
    - C(state) is one of INIT, BACKUP, MASTER, FAULT, STOP, DELETED.
    - From the state feed only C(name), C(state), C(effective_priority) (at the transition)
      and C(last_transition) are known.
  returned: always
  type: list
  elements: dict
  sample:
    - name: VI_1
      state: MASTER
      vrid: 55
      base_priority: 150
      effective_priority: 150
      interface: eth0
      vips: ["198.51.100.100"]
      last_transition: 1764031200.123
stale:
  description: True when the instances come from the state feed while keepalived is not running.
  returned: always
  type: bool
  sample: false
keepalived:
  description: keepalived's process and build.
  returned: always
  type: dict
  contains:
    running:
      description: Whether the pid file names keepalived's own live process (name, binary and owner checked).
      type: bool
      returned: always
      sample: true
    pid:
      description: keepalived's pid, or null.
      type: int
      returned: always
      sample: 42
    version:
      description: From C(keepalived --version); null when keepalived is not installed.
      type: str
      returned: always
      sample: 2.2.7
    json_supported:
      description: Whether this build writes a JSON dump (C(--signum=JSON) answers).
      type: bool
      returned: always
      sample: true
drain:
  description: The drain file.
  returned: always
  type: dict
  contains:
    path:
      description: Its path.
      type: str
      returned: always
      sample: /var/lib/halb-pair/drain
    value:
      description: The number in it; null when the file is missing.
      type: int
      returned: always
      sample: 0
    status:
      description: V(active) (0), V(drained) (-253 or lower), V(weighted) (other) or V(missing).
      type: str
      returned: always
      sample: active
    drained:
      description: Whether the node is drained.
      type: bool
      returned: always
      sample: false
vrrp_guard:
  description:
    - The counters of the VRRP guard (nftables table C(inet halb_pair_vrrp), see the keepalived role's
      C(keepalived_vrrp_guard)) - C(vrrp_peer) accepted from the pair's nodes, C(vrrp_spoofed) for the pair's
      VRIDs from an address outside the pair (dropped), C(vrrp_other) for other VRIDs (dropped).
    - Empty when the node has no guard table (or no nft).
  returned: always
  type: dict
  sample: {vrrp_peer: {packets: 120, bytes: 4800}, vrrp_spoofed: {packets: 24, bytes: 960}, vrrp_other: {packets: 0, bytes: 0}}
vrrp_strangers:
  description:
    - The addresses the VRRP guard dropped adverts for the pair's VRIDs from (the counter C(vrrp_spoofed)), from its
      sets C(strangers4) and C(strangers6), each remembered for an hour after its last advert - most likely a node
      taken out of the inventory that still runs keepalived, or a stranger on the segment.
    - C(expires) is the number of seconds until the guard forgets the address, null when nft does not say.
    - Empty when the node has no guard table, or a guard written before these sets existed.
  returned: always
  type: list
  elements: dict
  sample: [{address: 198.51.100.13, expires: 3597}]
  version_added: 0.2.0
virtual_servers:
  description:
    - The node's IPVS virtual servers as the kernel shows them in C(/proc/net/ip_vs), in its order, each with its real
      servers; empty when C(ip_vs) is loaded without any, null when it is not loaded (a node without LVS).
    - The backup director of an LVS pair keeps the same table as the master; only the node holding a virtual server's
      address forwards its traffic. C(halb.pair.pair_status) judges it there (C(lvs_no_live_real_server)).
  returned: always
  type: list
  elements: dict
  version_added: 0.2.0
  contains:
    protocol:
      description: V(TCP), V(UDP), V(SCTP), or V(FWM) for a service selected by firewall mark.
      type: str
      returned: always
      sample: TCP
    address:
      description: The virtual address; null for V(FWM).
      type: str
      returned: always
      sample: 198.51.100.140
    port:
      description: The virtual port; null for V(FWM).
      type: int
      returned: always
      sample: 8080
    fwmark:
      description: The firewall mark of a V(FWM) service; null otherwise.
      type: int
      returned: always
      sample: null
    scheduler:
      description: The scheduler (C(rr), C(wlc), ...).
      type: str
      returned: always
      sample: rr
    flags:
      description: V(persistent) and V(ops) (one-packet scheduling) when set.
      type: list
      elements: str
      returned: always
      sample: [persistent]
    persistent:
      description:
        - The persistence timeout in seconds; null when the service is not persistent, or when the kernel's
          C(CONFIG_HZ) is unknown (no C(/boot/config-RELEASE)) - the kernel shows the timeout in jiffies.
      type: int
      returned: always
      sample: 300
    real_servers:
      description:
        - Its real servers - C(address), C(port), C(forward) (V(Route), V(Masq), V(Tunnel) or V(Local), as
          C(ipvsadm -Ln) prints them), C(weight) (0 - takes no new connections), C(active) and C(inactive) connections.
      type: list
      elements: dict
      returned: always
      sample:
        - {address: 198.51.100.63, port: 8080, forward: Route, weight: 1, active: 0, inactive: 2}
        - {address: 198.51.100.64, port: 8080, forward: Route, weight: 0, active: 0, inactive: 0}
nginx:
  description:
    - The answer of nginx's health endpoint; C(healthy) is true for a 200, null when O(health_url) is empty.
    - C(status) is null when nothing answered; C(error) says why.
  returned: always
  type: dict
  sample: {url: "http://127.0.0.1:8081/healthz", status: 200, latency_ms: 1.42, node: lb1, healthy: true, error: null}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 - after the documentation, as Ansible modules do
from ansible_collections.halb.pair.plugins.module_utils import (  # noqa: E402
    _drain,
    _ipaddr,
    _keepalived_state,
    _node_io,
    _vrrp_guard,
)

ARGUMENT_SPEC = {
    "vips": {"type": "list", "elements": "str", "default": []},
    "source": {"type": "str", "default": "auto", "choices": ["auto", "feed", "json", "data"]},
    "dump_timeout": {"type": "float", "default": 3.0},
    "state_dir": {"type": "path", "default": "/var/lib/halb-pair/state"},
    "health_url": {"type": "str", "default": "http://127.0.0.1:8081/healthz"},
    "health_timeout": {"type": "float", "default": 2.0},
    **_node_io.NODE_ARGUMENT_SPEC,
}
NOT_CHECKED = {"url": None, "status": None, "latency_ms": None, "node": None, "healthy": None, "error": "not checked"}


def read(module, run, p):
    """Everything the node says: addresses (the ground truth), keepalived, its instance states, drain, health."""
    ip = module.get_bin_path("ip", required=True)
    # run_command fails the module on a missing binary: find keepalived first.
    keepalived_bin = module.get_bin_path(p["keepalived_bin"])
    addresses = _node_io.read_addresses(run, ip)
    pid = _node_io.keepalived_pid(p["pid_file"])
    version = _node_io.keepalived_version(run, keepalived_bin) if keepalived_bin else None
    json_supported = version is not None and _node_io.signum(run, keepalived_bin, "JSON") is not None
    feed_available = bool(_node_io.read_feed(p["state_dir"]))
    drain_value = _drain.parse_drain(_node_io.read_text(p["drain_file"]))
    order = _keepalived_state.source_order(p["source"], pid is not None, json_supported, feed_available)
    source, instances, errors = _node_io.read_states(
        run, order, pid, binary=keepalived_bin or p["keepalived_bin"], pid_file=p["pid_file"], dump_dir=p["dump_dir"],
        state_dir=p["state_dir"], timeout=p["dump_timeout"],
    )
    if not order:
        errors.append("auto: keepalived is not running and there is no state feed")
    nginx = _node_io.http_health(p["health_url"], timeout=p["health_timeout"]) if p["health_url"] else None
    guard, strangers = {}, []
    nft = module.get_bin_path("nft")
    if nft:
        # one read of the guard's table: its counters, and its sets with the sources of the
        # dropped adverts (a guard of an IPv4-only pair has no strangers6)
        rc, out, _err = run([nft, "-j", "list", "table", _vrrp_guard.FAMILY, _vrrp_guard.TABLE])
        if rc == 0:
            try:
                guard, strangers = _vrrp_guard.counters(out), _vrrp_guard.strangers(out)
            except ValueError:
                guard, strangers = {}, []
    return {
        "virtual_servers": _node_io.read_ipvs(),
        "vrrp_guard": guard,
        "vrrp_strangers": strangers,
        "addresses": addresses, "pid": pid, "version": version, "json_supported": json_supported, "drain": drain_value,
        "source": source, "instances": instances, "errors": errors, "nginx": nginx,
    }


def report(wanted, node, drain_file):
    """The module's result from what was read: the VIPs asked for and those keepalived knows, where they are."""
    held = _ipaddr.held_addresses(node["addresses"], wanted + [v for v in _node_io.vips_of(node["instances"]) if v not in wanted])
    vips = [
        {"address": vip, "present": entry is not None, "cidr": entry and entry["cidr"], "dev": entry and entry["dev"],
         "label": entry and entry["label"]}
        for vip, entry in held.items()
    ]
    status = _drain.describe(node["drain"])
    return {
        "changed": False,
        "held_vips": [v["address"] for v in vips if v["present"]],
        "vips": vips,
        "addresses": _ipaddr.global_addresses(node["addresses"]),
        "source": node["source"],
        "source_errors": node["errors"],
        "instances": [dict(i) for i in node["instances"]],
        "stale": node["source"] == "feed" and node["pid"] is None,
        "keepalived": {"running": node["pid"] is not None, "pid": node["pid"], "version": node["version"],
                       "json_supported": node["json_supported"]},
        "drain": {"path": drain_file, "value": node["drain"], "status": status, "drained": status == "drained"},
        "nginx": dict(node["nginx"]) if node["nginx"] else dict(NOT_CHECKED),
        "vrrp_guard": dict(node.get("vrrp_guard") or {}),
        "vrrp_strangers": [dict(x) for x in node.get("vrrp_strangers") or []],
        "virtual_servers": node.get("virtual_servers"),
    }


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params

    def run(argv):
        return module.run_command(argv, environ_update={"LC_ALL": "C"})

    try:
        wanted = [_ipaddr.normalise_address(v) for v in p["vips"]]
    except ValueError as exc:
        module.fail_json(msg=f"vips: {exc}")
    try:
        node = read(module, run, p)
    except (_node_io.NodeError, _drain.DrainFileError) as exc:
        module.fail_json(msg=str(exc))
    if node["source"] is None and p["source"] != "auto":
        module.fail_json(
            msg=f"expected keepalived's instance states from source {p['source']}, found: {'; '.join(node['errors'])}",
            source_errors=node["errors"],
        )
    module.exit_json(**report(wanted, node, p["drain_file"]))


if __name__ == "__main__":
    main()
