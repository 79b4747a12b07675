#!/usr/bin/env python3
"""Writes rbldnsd data files that mirror a catalog's enabled lists, for the benchmark.

Reads `rblwatch lists --format json` on stdin and writes, into the directory given as the
first argument, one data file per default list: its RFC 5782 positive test point and the
benchmark target 192.0.2.5 listed with the list's first listing code (TXT included), so every
list is healthy and the target is listed everywhere. Prints the rbldnsd zone arguments.
"""
import json
import os
import sys


def first_code(list_):
    """The lowest address the first listing code pattern matches."""
    code = next(c for c in list_["codes"] if c["listing"])
    octets = []
    for part in code["code"].split("."):
        octets.append("0" if part == "*" else part.split("-")[0])
    if code["bits"]:
        octets[3] = str(code["bits"])
    return ".".join(octets)


def main():
    out = sys.argv[1]
    soa = "$SOA 60 ns.bench.test. hostmaster.bench.test. 1 600 300 86400 60\n$NS 60 ns.bench.test.\n"
    args = []
    for list_ in json.load(sys.stdin):
        if not list_["default"]:
            continue
        code = first_code(list_)
        zone = list_["zone"]
        header = f"{soa}:{code}:Listed by {list_['id']} for the benchmark: $\n"
        positive = list_["test"]["positive"]
        if "domain" in list_["query"] and "ipv4" not in list_["query"]:
            kind, body = "dnset", f"{positive}\nspam.example\n"
        elif "ipv4" in list_["query"]:
            kind, body = "ip4set", f"{positive}\n192.0.2.5\n"
        else:
            kind, body = "ip6trie", f"{positive}\n2001:db8::/64\n"
        name = f"{list_['id']}.{kind}"
        with open(os.path.join(out, name), "w") as f:
            f.write(header + body)
        os.chmod(os.path.join(out, name), 0o644)
        args.append(f"{zone}:{kind}:{name}")
    print(" ".join(args))


main()
