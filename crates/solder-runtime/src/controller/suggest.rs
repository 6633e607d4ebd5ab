//! "Did you mean …?" for unknown component names: the registered name with the smallest
//! Levenshtein distance, if it is close enough to be a plausible typo.

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate within a third of the name's length (at least 2 edits allowed);
/// ties go to the alphabetically first candidate so the message is stable.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        let d = edit_distance(name, c);
        if d > limit {
            continue;
        }
        best = match best {
            Some((bd, bc)) if bd < d || (bd == d && bc <= c) => Some((bd, bc)),
            _ => Some((d, c)),
        };
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        let cases = [
            ("", "", 0),
            ("abc", "", 3),
            ("kitten", "sitting", 3),
            ("prometheus.scrap", "prometheus.scrape", 1),
            ("local.fil", "local.file", 1),
        ];
        for (a, b, want) in cases {
            assert_eq!(edit_distance(a, b), want, "{a} {b}");
            assert_eq!(edit_distance(b, a), want, "{b} {a}");
        }
    }

    #[test]
    fn suggests_close_names_only() {
        let names = [
            "local.file",
            "discovery.relabel",
            "prometheus.exporter.self",
        ];
        assert_eq!(suggest("local.fiel", names), Some("local.file"));
        assert_eq!(
            suggest("discovery.relable", names),
            Some("discovery.relabel")
        );
        assert_eq!(suggest("otelcol.receiver.otlp", names), None);
    }
}
