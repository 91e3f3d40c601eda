# Copyright (c) 2026, webstack.circus contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Take app hosts out of the upstreams of the sites the nginx_proxy role wrote, or put
them back. deploy.yml runs it on every proxy around each batch of app hosts.

Usage: python3 nginx_proxy_upstream.py down|up HOST...

In each ``upstream webstack_*`` block, the ``server HOST:PORT ...;`` lines of the given
hosts get nginx's ``down`` parameter, or lose it. ``down`` never takes the last server
of an upstream: that one stays up and is reported as kept. When a file changed, nginx's
configuration is checked (the files are put back as they were if it is refused) and
nginx is reloaded: new connections avoid the hosts that are down, requests already sent
to them finish. Prints {"changed": ..., "sites": [...], "kept": [...]} as JSON.
"""

import glob
import json
import re
import subprocess
import sys

SITES = "/etc/nginx/sites-available/*.conf"
UPSTREAM = re.compile(r"^\s*upstream\s+(webstack_\S+)\s*\{\s*$")
SERVER = re.compile(
    r"^(?P<lead>\s*server\s+)(?P<host>\S+):(?P<port>\d+)(?P<params>[^;]*?)(?P<down>\s+down)?;\s*$"
)


def mark(text, hosts, down):
    """Return (text with the hosts' servers marked down or up, [kept "upstream host:port"])."""
    lines = text.splitlines(keepends=True)
    kept = []
    block = None
    for index, line in enumerate(lines):
        opening = UPSTREAM.match(line)
        if opening:
            block = dict(name=opening.group(1), servers=[])
        elif block is not None and line.strip() == "}":
            settle(lines, block, hosts, down, kept)
            block = None
        elif block is not None and SERVER.match(line):
            block["servers"].append(index)
    return "".join(lines), kept


def settle(lines, block, hosts, down, kept):
    """Mark one upstream block's servers; keep its last server up."""
    servers = {index: SERVER.match(lines[index]) for index in block["servers"]}
    wanted = {
        index: (match["host"] in hosts and down)
        or (match["host"] not in hosts and bool(match["down"]))
        for index, match in servers.items()
    }
    if servers and all(wanted.values()):
        for index, match in servers.items():
            if match["host"] in hosts and not match["down"]:
                wanted[index] = False
                kept.append(f"{block['name']} {match['host']}:{match['port']}")
                break
    for index, match in servers.items():
        suffix = " down" if wanted[index] else ""
        lines[index] = f"{match['lead']}{match['host']}:{match['port']}{match['params']}{suffix};\n"


def main(argv):
    if len(argv) < 2 or argv[0] not in ("down", "up"):
        sys.exit("usage: nginx_proxy_upstream.py down|up HOST...")
    down, hosts = argv[0] == "down", set(argv[1:])
    originals, kept = {}, []
    for path in sorted(glob.glob(SITES)):
        with open(path) as site:
            text = site.read()
        marked, site_kept = mark(text, hosts, down)
        kept += site_kept
        if marked != text:
            originals[path] = text
            with open(path, "w") as site:
                site.write(marked)
    if originals:
        check = subprocess.run(["nginx", "-t", "-q"], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            for path, text in originals.items():
                with open(path, "w") as site:
                    site.write(text)
            sys.exit(f"nginx refused the marked sites, put back as they were: {check.stderr}")
        subprocess.run(["systemctl", "reload", "nginx"], check=True)
    print(json.dumps(dict(changed=bool(originals), sites=sorted(originals), kept=kept)))


if __name__ == "__main__":
    main(sys.argv[1:])
