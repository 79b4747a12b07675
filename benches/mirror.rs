//! Lookups per second of each local-mirror format, the matching alone (no engine, no
//! output): `cargo bench --bench mirror`.
//!
//! Data: a /16's worth of entries like a real feed (single addresses, /24s with
//! exclusions, CIDRs of odd lengths, names with wildcards); every lookup is timed over a
//! few million addresses or names.

#![allow(clippy::print_stdout)] // printing the figures is what a benchmark is for

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use rblwatch::mirror::{Asked, Format, Mirror};

fn rate(label: &str, mirror: &Mirror, asked: &[Asked<'_>]) {
    let rounds = 4_000_000 / asked.len().max(1);
    let start = Instant::now();
    let mut listed = 0usize;
    for _ in 0..rounds {
        for a in asked {
            if matches!(
                black_box(mirror.answer(*a)).0,
                rblwatch::dns::Answer::Addresses(_)
            ) {
                listed += 1;
            }
        }
    }
    let lookups = rounds * asked.len();
    let secs = start.elapsed().as_secs_f64();
    let per_second = lookups as f64 / secs;
    let share = listed as f64 / lookups as f64 * 100.0;
    println!(
        "{label:8}: {lookups} lookups in {secs:.2} s = {per_second:.0} lookups/s ({share:.0}% listed)"
    );
}

fn main() {
    let mut set = String::from(":127.0.0.2:Listed $, see http://bl.example/$\n");
    let mut trie = set.clone();
    let mut six = set.clone();
    let mut names = set.clone();
    for i in 0..65_536u32 {
        let ip = Ipv4Addr::from(0x0a00_0000 | i);
        if i % 7 == 0 {
            set.push_str(&format!("{ip}\n"));
            trie.push_str(&format!("{ip}/32\n"));
            six.push_str(&format!("2001:db8:{:x}:{:x}::/64\n", i >> 8, i & 255));
            names.push_str(&format!("host{i}.example\n*.sub{i}.example\n"));
        }
        if i % 4096 == 0 {
            set.push_str(&format!(
                "10.{}.{}.0/24\n!10.{}.{}.9\n",
                100 + (i >> 12),
                i & 255,
                100 + (i >> 12),
                i & 255
            ));
            trie.push_str(&format!("10.{}.0.0/19\n", 100 + (i >> 12)));
        }
    }
    let parse =
        |text: &str, format| Mirror::parse(text, format, "bench").expect("bench data parses");
    let v4: Vec<Ipv4Addr> = (0..65_536u32)
        .map(|i| Ipv4Addr::from(0x0a00_0000 | i))
        .collect();
    let v4: Vec<Asked<'_>> = v4.iter().map(|ip| Asked::V4(*ip)).collect();
    rate("ip4set", &parse(&set, Format::Ip4Set), &v4);
    rate("ip4trie", &parse(&trie, Format::Ip4Trie), &v4);
    let v6: Vec<Ipv6Addr> = (0..65_536u32)
        .map(|i| {
            format!("2001:db8:{:x}:{:x}::1", i >> 8, i & 255)
                .parse()
                .expect("ip")
        })
        .collect();
    let v6: Vec<Asked<'_>> = v6.iter().map(|ip| Asked::V6(*ip)).collect();
    rate("ip6trie", &parse(&six, Format::Ip6Trie), &v6);
    let hosts: Vec<String> = (0..65_536u32)
        .map(|i| {
            if i % 2 == 0 {
                format!("host{i}.example")
            } else {
                format!("a.sub{}.example", i - 1)
            }
        })
        .collect();
    let hosts: Vec<Asked<'_>> = hosts.iter().map(|n| Asked::Name(n)).collect();
    rate("dnset", &parse(&names, Format::Dnset), &hosts);
}
