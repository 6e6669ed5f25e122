#!/usr/bin/python
# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vrrp_failover
short_description: Planned failover of one load-balancer node through its drain file
version_added: 0.1.0
description:
  - O(state=drained) writes C(-253) into the drain file, a keepalived C(vrrp_track_file) with
    weight 1 tracked by every instance of the node. keepalived pulls the node's instances to
    priority 1; its peers, now higher, take the VIPs over after their master-down timer while
    the node keeps serving until they do (make-before-break).
    The module then waits until the node holds none of the watched VIPs (polling C(ip -j addr))
    and, with O(peers_check_port), until each released VIP accepts TCP connections again.
  - If the wait times out, a command fails, the module receives SIGTERM, SIGHUP or SIGINT, or the
    controller's end of the session closes (Ctrl-C on the controller or a dropped SSH session; a
    pipelined module without a tty gets no signal, its output loses its reader) while it applies the
    drain, the drain file is put back to the value it had before and the module fails saying so; a
    node is never left half-drained.
  - O(state=active) writes C(0) and waits until the node holds the watched VIPs again (those it is
    the preferred master of). A timeout or a signal here fails but leaves the node active.
  - Refusing a drain that would leave a VIP without holder is left to the caller, who runs
    C(playbooks/status.yml) (or M(halb.pair.vip_info) on every node) first.
author:
  - halb.pair contributors (@halb-pair)
attributes:
  check_mode:
    support: full
    description: Predicts C(changed) from the drain file; writes nothing and does not wait.
  diff_mode:
    support: full
    description: Shows the drain value before and after.
options:
  state:
    description: V(drained) (C(-253)) or V(active) (C(0)).
    type: str
    required: true
    choices: [drained, active]
  vips:
    description:
      - The VIPs to watch, as C(198.51.100.100) or C(198.51.100.100/24).
      - For V(drained), the VIPs the node must release; when empty, the VIPs of keepalived's instances
        (from its JSON or data dump).
      - For V(active), the VIPs the node is preferred master of and must take back; when empty,
        the module does not wait and says so in a warning.
    type: list
    elements: str
    default: []
  wait:
    description: Wait for the VIPs to move. With V(false) only the drain file is written.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the move. keepalived needs about one master-down interval
        (3 x advert_int + skew, 3.6 s at advert_int 1) after the change.
    type: float
    default: 20.0
  poll_interval:
    description: Seconds between two readings of C(ip -j addr).
    type: float
    default: 0.2
  peers_check_port:
    description:
      - With O(state=drained), after the node released a VIP, wait until a TCP connection to
        that VIP on this port succeeds from the node, which then can only be a peer answering.
      - Unset, the peers are not checked here (the failover playbook checks them with M(halb.pair.vip_info)).
    type: int
notes:
  - Needs root on the node (the collection's playbooks set C(become)); the drain file
    belongs to root.
  - Through a container connection (C(podman exec), C(docker exec)) the engine keeps the exec
    session's output open after its client died; Ctrl-C on the controller does not reach the module
    there, and a completed drain stays (C(playbooks/failover.yml -e restore=true) undoes it).
  - Switchover time is about one master-down interval of the peers; no request is lost on the way
    (measured with keepalived 2.2.7, see docs).
seealso:
  - module: halb.pair.vip_info
extends_documentation_fragment:
  - halb.pair.keepalived_node
"""

EXAMPLES = r"""
- name: Drain lb1 (its peers take its VIPs make-before-break)
  halb.pair.vrrp_failover:
    state: drained
    vips: [198.51.100.100, 198.51.100.101]
    timeout: 20
  register: drain

- name: Say how long the switchover took
  ansible.builtin.debug:
    msg: "released {{ drain.moved.released }} in {{ drain.elapsed }} s"

- name: Undrain lb1 and wait until it holds the VIP it is preferred master of
  halb.pair.vrrp_failover:
    state: active
    vips: [198.51.100.100]

- name: Undrain without waiting
  halb.pair.vrrp_failover:
    state: active
    wait: false
"""

RETURN = r"""
before:
  description: The drain value before; null when it could not be read.
  returned: always
  type: int
  sample: 0
after:
  description: The drain value after (in check mode, the value that would be written).
  returned: always
  type: int
  sample: -253
watched:
  description: The VIPs the module waited on.
  returned: always
  type: list
  elements: str
  sample: ["198.51.100.100", "198.51.100.101"]
held_before:
  description: The watched VIPs the node held before the change.
  returned: always
  type: list
  elements: str
  sample: ["198.51.100.100"]
held_after:
  description: The watched VIPs the node holds at the end (equal to RV(held_before) in check mode).
  returned: always
  type: list
  elements: str
  sample: []
moved:
  description: The watched VIPs the node released and acquired.
  returned: always
  type: dict
  sample: {released: ["198.51.100.100"], acquired: []}
elapsed:
  description: Seconds from writing the drain file to the end of the wait (0.0 when nothing was waited for).
  returned: always
  type: float
  sample: 3.412
waited:
  description: Whether the module waited for the move.
  returned: always
  type: bool
  sample: true
peers_answering:
  description: With O(peers_check_port), the released VIPs that answered on that port.
  returned: when O(peers_check_port) is set and O(state=drained)
  type: list
  elements: str
  sample: ["198.51.100.100"]
restored:
  description:
    - On a failed or interrupted drain, whether the drain file was put back to RV(before) (RV(after) then equals RV(before)).
    - C(changed) stays true, keepalived saw the drain value for the length of the wait.
  returned: failure
  type: bool
  sample: true
diff:
  description: The drain value before and after.
  returned: when diff mode is on
  type: dict
  sample: {before: "0\n", after: "-253\n"}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 - after the documentation, as Ansible modules do
from ansible_collections.halb.pair.plugins.module_utils import (  # noqa: E402
    _drain,
    _failover,
    _ipaddr,
    _node_io,
)

ARGUMENT_SPEC = {
    "state": {"type": "str", "required": True, "choices": ["drained", "active"]},
    "vips": {"type": "list", "elements": "str", "default": []},
    "wait": {"type": "bool", "default": True},
    "timeout": {"type": "float", "default": 20.0},
    "poll_interval": {"type": "float", "default": 0.2},
    "peers_check_port": {"type": "int"},
    **_node_io.NODE_ARGUMENT_SPEC,
}


def read(run, p, ip, keepalived_bin, watched):
    """The drain value, the VIPs to watch (from keepalived's dumps when none are given) and those held now."""
    content = _node_io.read_text(p["drain_file"])
    if content is None:
        raise _node_io.NodeError(
            f"expected the drain file {p['drain_file']} (created by the halb.pair.keepalived role and tracked by keepalived), found none"
        )
    before = _drain.parse_drain(content)
    if not watched and p["state"] == "drained" and p["wait"]:
        if not keepalived_bin:
            raise _node_io.NodeError(f"expected vips, or keepalived to list them, found no {p['keepalived_bin']} in PATH")
        pid = _node_io.keepalived_pid(p["pid_file"])
        if pid is None:
            raise _node_io.NodeError(f"expected vips, or keepalived running to list them, found no live process in {p['pid_file']}")
        source, instances, errors = _node_io.read_states(
            run, ["json", "data"], pid, binary=keepalived_bin, pid_file=p["pid_file"], dump_dir=p["dump_dir"], state_dir=""
        )
        if source is None:
            raise _node_io.NodeError(f"expected vips, or a keepalived dump listing them, found {'; '.join(errors)}")
        watched = _node_io.vips_of(instances)
    return before, watched, _node_io.held_vips(run, watched, ip)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params

    def run(argv):
        return module.run_command(argv, environ_update={"LC_ALL": "C"})

    ip = module.get_bin_path("ip", required=True)
    # run_command fails the module on a missing binary: find keepalived first.
    keepalived_bin = module.get_bin_path(p["keepalived_bin"])

    # Read.
    try:
        watched = [_ipaddr.normalise_address(v) for v in p["vips"]]
    except ValueError as exc:
        module.fail_json(msg=f"vips: {exc}")
    try:
        before, watched, held_before = read(run, p, ip, keepalived_bin, watched)
    except (_node_io.NodeError, _drain.DrainFileError) as exc:
        module.fail_json(msg=str(exc))

    # Plan.
    plan = _drain.plan_drain(before, p["state"])
    result = {
        "changed": plan["changed"], "before": before, "after": plan["after"], "watched": watched,
        "held_before": held_before, "held_after": held_before, "moved": {"released": [], "acquired": []},
        "elapsed": 0.0, "waited": False,
    }
    if module._diff:
        result["diff"] = {"before": _drain.render(before), "after": _drain.render(plan["after"])}
    if module.check_mode:
        module.exit_json(**result)

    # Act.
    outcome = _failover.apply(
        plan, p["state"], watched, held_before, drain_file=p["drain_file"], wait=p["wait"], timeout=p["timeout"],
        interval=p["poll_interval"], peers_port=p["peers_check_port"],
        write=lambda text: _node_io.write_text(p["drain_file"], text),
        read_held=lambda: _node_io.held_vips(run, watched, ip),
        probe=lambda vip, port, timeout: _node_io.tcp_open(vip, port, timeout=timeout),
        gone=_node_io.reader_gone,
    )

    # Exit.
    for warning in outcome["warnings"]:
        module.warn(warning)
    result.update(outcome["result"])
    if outcome["failed"]:
        module.fail_json(msg=outcome["msg"], **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
