//! DMARC (RFC 7489): the policy record at `_dmarc.DOMAIN`, read for `doctor`.

/// What a domain's DMARC record says, or what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dmarc {
    /// One valid record with this policy (`none`, `quarantine`, `reject`).
    Policy(String),
    /// No record.
    Missing,
    /// More than one record: receivers ignore them all (RFC 7489 6.6.3).
    Several(usize),
    /// A record whose `p=` is missing or not one of the three.
    Invalid(String),
}

/// Reads the DMARC records found at `_dmarc.DOMAIN` (all TXT records there).
pub fn read(records: &[String]) -> Dmarc {
    let found: Vec<&String> = records
        .iter()
        .filter(|r| {
            let lower = r.trim_start().to_ascii_lowercase();
            lower.starts_with("v=dmarc1") && lower[8..].trim_start().starts_with(';')
                || lower == "v=dmarc1"
        })
        .collect();
    match found.as_slice() {
        [] => Dmarc::Missing,
        [one] => {
            // RFC 7489 6.3: tag=value pairs separated by `;`; `v` first, `p` required.
            let policy = one
                .split(';')
                .filter_map(|tag| tag.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("p"))
                .map(|(_, value)| value.trim().to_ascii_lowercase());
            match policy {
                Some(p) if ["none", "quarantine", "reject"].contains(&p.as_str()) => {
                    Dmarc::Policy(p)
                }
                Some(p) => Dmarc::Invalid(format!("p={p} is not none, quarantine or reject")),
                None => Dmarc::Invalid("no p= tag (it is required)".into()),
            }
        }
        several => Dmarc::Several(several.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_and_mistakes() {
        let read = |r: &[&str]| read(&r.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            read(&["v=DMARC1; p=reject; rua=mailto:d@example.com"]),
            Dmarc::Policy("reject".into())
        );
        assert_eq!(read(&["v=DMARC1;p=None"]), Dmarc::Policy("none".into()));
        assert_eq!(read(&["some other text"]), Dmarc::Missing);
        assert_eq!(read(&[]), Dmarc::Missing);
        assert_eq!(
            read(&["v=DMARC1; p=none", "v=DMARC1; p=reject"]),
            Dmarc::Several(2)
        );
        assert!(matches!(read(&["v=DMARC1; p=block"]), Dmarc::Invalid(_)));
        assert!(matches!(
            read(&["v=DMARC1; rua=mailto:x@example.com"]),
            Dmarc::Invalid(_)
        ));
    }
}
