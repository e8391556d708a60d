//! "Did you mean" suggestions by edit distance.

/// The Levenshtein distance between two strings, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        if let Some(first) = cur.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            if let Some(slot) = cur.get_mut(j + 1) {
                *slot = sub.min(del).min(ins);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Help text: "did you mean `x`?", or else the list of what exists.
pub(crate) fn help(name: &str, what: &str, candidates: &[&str]) -> Option<String> {
    if let Some(best) = closest(name, candidates.iter().copied()) {
        return Some(format!("did you mean `{best}`?"));
    }
    if candidates.is_empty() {
        return Some(format!("no {what} are declared here"));
    }
    Some(format!("known {what}: {}", list(candidates)))
}

/// `` `a`, `b`, `c` `` (at most 12, then "…").
pub(crate) fn list(items: &[&str]) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i == 12 {
            out.push_str(", …");
            break;
        }
        if i > 0 {
            out.push_str(", ");
        }
        out.push('`');
        out.push_str(item);
        out.push('`');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("参与", "参加"), 1);
    }

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(closest("urgnet", ["urgent", "count"]), Some("urgent"));
        assert_eq!(closest("zzz", ["urgent", "count"]), None);
        assert_eq!(
            help("x", "facts", &[]).as_deref(),
            Some("no facts are declared here")
        );
        assert_eq!(
            help("qqqq", "facts", &["a", "b"]).as_deref(),
            Some("known facts: `a`, `b`")
        );
    }
}
