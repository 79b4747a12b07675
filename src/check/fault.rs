//! When most lists fail their health check the same way, the fault is the resolver's, not
//! the lists': say so once, naming the resolver, what it did, the likely cause and what to do.
//!
//! Pure: takes the lists' health and the servers asked. Printing is the reports'.

use std::fmt;

use serde::Serialize;

use super::ListHealth;
use crate::dns::Health;

/// What the resolver did to the test points of most lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// NXDOMAIN (or an empty answer) for the positive test points: it cannot see the lists,
    /// or it strips answers in 127.0.0.0/8.
    NoListings,
    /// No answer at all: timeouts, SERVFAIL, unreachable.
    NoAnswer,
    /// REFUSED, or the lists' refusal codes.
    Refuses,
    /// Answers outside 127.0.0.0/8 or undocumented codes: it rewrites answers.
    Rewrites,
}

impl FaultKind {
    fn of(health: Health) -> Option<FaultKind> {
        match health {
            Health::Dead => Some(FaultKind::NoListings),
            Health::Unreachable => Some(FaultKind::NoAnswer),
            Health::Refused => Some(FaultKind::Refuses),
            Health::Bogus => Some(FaultKind::Rewrites),
            Health::Ok | Health::Wildcard | Health::Unchecked => None,
        }
    }
}

/// The resolver's fault, found from the lists' health.
#[derive(Debug, Clone, Serialize)]
pub struct ResolverFault {
    /// What it did.
    pub kind: FaultKind,
    /// What was asked, for people: `the resolver 127.0.0.1:53`, or recursive resolution.
    pub resolver: String,
    /// The lists that failed this way, by id.
    pub lists: Vec<String>,
    /// How many lists were checked.
    pub checked: usize,
}

/// Finds the resolver's fault: at least two lists checked, and more than half of them failed
/// their test points the same way. A list or two failing is the lists' own business.
pub fn resolver_fault(health: &[ListHealth], resolver: &str) -> Option<ResolverFault> {
    let checked: Vec<&ListHealth> = health
        .iter()
        .filter(|h| h.health != Health::Unchecked)
        .collect();
    let kinds = [
        FaultKind::NoListings,
        FaultKind::NoAnswer,
        FaultKind::Refuses,
        FaultKind::Rewrites,
    ];
    let (kind, lists) = kinds
        .into_iter()
        .map(|kind| {
            let lists: Vec<String> = checked
                .iter()
                .filter(|h| FaultKind::of(h.health) == Some(kind))
                .map(|h| h.list.id.clone())
                .collect();
            (kind, lists)
        })
        .max_by_key(|(_, lists)| lists.len())?;
    if lists.len() < 2 || lists.len() * 2 <= checked.len() {
        return None;
    }
    Some(ResolverFault {
        kind,
        resolver: resolver.to_string(),
        lists,
        checked: checked.len(),
    })
}

impl ResolverFault {
    /// Whether a list is one of those the fault explains.
    pub fn covers(&self, list: &str) -> bool {
        self.lists.iter().any(|l| l == list)
    }

    /// What the resolver did, the likely cause, in one sentence.
    pub fn what(&self) -> String {
        let who = &self.resolver;
        let (n, of) = (self.lists.len(), self.checked);
        match self.kind {
            FaultKind::NoListings => format!(
                "{who} finds nothing (NXDOMAIN or an empty answer) at the RFC 5782 test point that every working list lists, for {n} of {of} lists: it cannot see them. Likely: it has no outside DNS, or it strips answers in 127.0.0.0/8 (unbound `private-address`, DNS rebinding protection)"
            ),
            FaultKind::NoAnswer => format!(
                "{who} gives no answer for the test points of {n} of {of} lists (timeouts, SERVFAIL). Likely: it is down or unreachable, or it cannot reach the lists' servers"
            ),
            FaultKind::Refuses => format!(
                "{who} is refused for the test points of {n} of {of} lists. Likely: it refuses recursion to this host, or it is a public or shared resolver the lists refuse"
            ),
            FaultKind::Rewrites => format!(
                "{who} answers the test points of {n} of {of} lists with addresses the lists never give. Likely: it rewrites answers (NXDOMAIN hijacking, a filtering resolver)"
            ),
        }
    }

    /// What to do about it.
    pub fn advice(&self) -> &'static str {
        "no answer from these lists is believed; run `rblwatch doctor`, and ask through a resolver that sees the lists: a local recursive one (unbound, not forwarding to a public resolver) or `--nameserver recursive`"
    }
}

impl fmt::Display for ResolverFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.what(), self.advice())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::lists::Catalog;

    fn lists(healths: &[Health]) -> Vec<ListHealth> {
        let catalog = Catalog::builtin().expect("catalog");
        catalog
            .lists
            .iter()
            .filter(|l| l.defunct.is_none())
            .zip(healths)
            .map(|(list, &health)| ListHealth {
                list: Arc::clone(list),
                health,
                detail: None,
            })
            .collect()
    }

    #[track_caller]
    fn case(healths: &[Health], expected: Option<FaultKind>) {
        let found = resolver_fault(&lists(healths), "the resolver 127.0.0.1:53");
        assert_eq!(found.as_ref().map(|f| f.kind), expected, "{healths:?}");
        if let Some(fault) = found {
            assert!(fault.to_string().contains("127.0.0.1:53"));
        }
    }

    #[test]
    fn most_lists_failing_alike_is_the_resolver() {
        use Health::*;
        case(&[Dead, Dead, Dead], Some(FaultKind::NoListings));
        case(&[Unreachable, Unreachable, Ok], Some(FaultKind::NoAnswer));
        case(
            &[Refused, Refused, Refused, Ok, Ok],
            Some(FaultKind::Refuses),
        );
        case(&[Bogus, Bogus, Bogus], Some(FaultKind::Rewrites));
        // Half is not most; one list is the list's own business; mixed failures are not one.
        case(&[Dead, Dead, Ok, Ok], None);
        case(&[Dead], None);
        case(&[Dead, Unreachable, Refused, Ok], None);
        case(&[Unchecked, Unchecked, Unchecked], None);
        case(&[Wildcard, Wildcard, Wildcard], None);
    }
}
