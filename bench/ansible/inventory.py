#!/usr/bin/env python3
"""Writes the Ansible side's inventory (python3 standard library only): N "servers" on
this machine, spread evenly over regions, each a directory plus a loopback address, the
way Patchwave's local provider makes them (127.R.S.N, N = 1 + i % 254, S = i // 254).

    inventory.py --servers N --region NAME=R [--region NAME=R ...] --work DIR
                 --haproxy-socket PATH --frontend NAME=127.0.0.1:PORT [...]
                 [--blue-port 18491] [--green-port 18492] > inventory.yml

Every host runs with `ansible_connection: local`. Hosts are named REGION-INDEX; their
directory is DIR/servers/HOST (releases/ and incoming/ are made by setup.yml). A region
is an inventory group (its name with '-' as '_', as Ansible wants) whose hosts share the
HAProxy backend app_REGION; the list `regions` (name, backend, frontend, group) is what
haproxy.cfg.j2 iterates over. The two slots of blue/green: the service of one release
listens on the host's address at blue_port, the next one at green_port.

The output is JSON, which is valid YAML, so no YAML library is needed.
"""

import argparse
import json
import os
import sys


def address(region_number, index):
    # As orchestrator/providers/local.cpp local_address(): never .0 or .255.
    return "127.%d.%d.%d" % (region_number, index // 254, 1 + index % 254)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--servers", type=int, required=True)
    p.add_argument("--region", action="append", required=True, help="NAME=R, R in 1..254")
    p.add_argument("--frontend", action="append", required=True, help="NAME=HOST:PORT")
    p.add_argument("--work", required=True)
    p.add_argument("--haproxy-socket", required=True)
    p.add_argument("--blue-port", type=int, default=18491)
    p.add_argument("--green-port", type=int, default=18492)
    a = p.parse_args(argv)

    regions = []
    for spec in a.region:
        name, _, number = spec.partition("=")
        if not number.isdigit() or not 1 <= int(number) <= 254:
            p.error("--region %s: R must be 1..254" % spec)
        regions.append((name, int(number)))
    frontends = dict(spec.split("=", 1) for spec in a.frontend)
    missing = [name for name, _ in regions if name not in frontends]
    if missing:
        p.error("no --frontend for region(s) %s" % ", ".join(missing))
    if a.servers % len(regions):
        p.error("--servers %d is not a multiple of %d regions" % (a.servers, len(regions)))
    per_region = a.servers // len(regions)

    work = os.path.abspath(a.work)
    children, listed = {}, []
    for name, number in regions:
        group = name.replace("-", "_")
        hosts = {}
        for i in range(per_region):
            host = "%s-%d" % (name, i)
            hosts[host] = {"address": address(number, i),
                           "server_dir": os.path.join(work, "servers", host)}
        children[group] = {"vars": {"backend": "app_" + name}, "hosts": hosts}
        listed.append({"name": name, "group": group, "backend": "app_" + name,
                       "frontend": frontends[name]})
    inventory = {"all": {
        "vars": {
            "ansible_connection": "local",
            "ansible_python_interpreter": "/usr/bin/python3",
            "work_dir": work,
            "haproxy_socket": os.path.abspath(a.haproxy_socket),
            "slot_ports": {"blue": a.blue_port, "green": a.green_port},
            "regions": listed,
        },
        "children": children,
    }}
    json.dump(inventory, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
