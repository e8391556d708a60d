//! Parsing and checking `basis`: the articles a rule cites.
//!
//! A basis is written as people write citations, one or more parts separated by `；`:
//!
//! - `《行政处罚法》第五十七条第一款第二项、第三项` — a law in book-title marks, then articles
//!   (条), paragraphs (款) and items (项) in Chinese or Arabic numerals, separated by `、`;
//!   `第二十五条至第二十八条` is a range; remarks in parentheses are skipped;
//! - `第四十二条` — no law: the law last named in the same basis, else the procedure's own
//!   (the first law its `[procedure]` basis cites);
//! - `713 §25.2, §28` — the short form: a law id of `rules/laws.toml`, `§` article
//!   `.paragraph` `.item`;
//! - anything else is a remark (`市场监管行业规章（二手来源，UNCONFIRMED）`) kept in the text.
//!
//! With a list of laws loaded, every cited law must be in it, every article within its
//! count, and a law repealed before the procedure's `valid_from` is warned about.

use std::collections::HashMap;
use std::ops::Range;

use chrono::NaiveDate;

use super::raw::{RawMeta, RawProcedure};
use super::reader::{Cx, S};
use crate::model::{Citation, Laws};

/// How a cited law is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LawName {
    /// By its title, in book-title marks.
    Title(String),
    /// By its id (the short form).
    Id(String),
    /// Not named: the procedure's own law.
    Implied,
}

/// One citation as written, before its law is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    pub(crate) law: LawName,
    /// Byte range of the law's name in the basis (of the article when the law is implied).
    pub(crate) law_span: Range<usize>,
    pub(crate) article: u32,
    pub(crate) paragraph: Option<u32>,
    pub(crate) item: Option<u32>,
    pub(crate) through: Option<u32>,
    /// Byte range of the article reference in the basis.
    pub(crate) span: Range<usize>,
}

/// What a basis text says: its citations and the laws it names (with or without articles).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub(crate) citations: Vec<Written>,
    /// Every law named, in order, with its span.
    pub(crate) laws: Vec<(LawName, Range<usize>)>,
}

/// The value of a number written in Chinese (`二十五`, `一百零五`, `两`) or Arabic digits.
pub(crate) fn parse_number(s: &str) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    if s.chars().all(|c| c.is_ascii_digit()) {
        return s.parse().ok().filter(|n| *n > 0);
    }
    let mut total: u32 = 0;
    let mut digit: Option<u32> = None;
    for c in s.chars() {
        let d = match c {
            '零' | '〇' => {
                digit = None;
                continue;
            }
            '一' => 1,
            '二' | '两' => 2,
            '三' => 3,
            '四' => 4,
            '五' => 5,
            '六' => 6,
            '七' => 7,
            '八' => 8,
            '九' => 9,
            '十' | '百' | '千' => {
                let unit = match c {
                    '十' => 10,
                    '百' => 100,
                    _ => 1000,
                };
                total = total.checked_add(digit.unwrap_or(1).checked_mul(unit)?)?;
                digit = None;
                continue;
            }
            _ => return None,
        };
        if digit.is_some() {
            return None;
        }
        digit = Some(d);
    }
    total = total.checked_add(digit.unwrap_or(0))?;
    (total > 0).then_some(total)
}

fn is_numeral(c: char) -> bool {
    c.is_ascii_digit() || "零〇一二两三四五六七八九十百千".contains(c)
}

/// A cursor over a basis text.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }
    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }
    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }
    /// Skips a remark in parentheses (full-width or not, nested); `false` if there is none
    /// or it does not close.
    fn skip_remark(&mut self) -> bool {
        let start = self.pos;
        if !(self.eat('（') || self.eat('(')) {
            return false;
        }
        let mut depth = 1;
        while let Some(c) = self.bump() {
            match c {
                '（' | '(' => depth += 1,
                '）' | ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return true;
                    }
                }
                _ => {}
            }
        }
        self.pos = start;
        false
    }
    /// `第` number unit: returns (number, unit, span).
    fn numbered(&mut self) -> Option<(u32, char, Range<usize>)> {
        let start = self.pos;
        if !self.eat('第') {
            return None;
        }
        let digits_start = self.pos;
        while self.peek().is_some_and(is_numeral) {
            self.bump();
        }
        let digits = self.text.get(digits_start..self.pos).unwrap_or("");
        let unit = self.peek().filter(|c| matches!(c, '条' | '款' | '项'));
        match (parse_number(digits), unit) {
            (Some(n), Some(u)) => {
                self.bump();
                Some((n, u, start..self.pos))
            }
            _ => {
                self.pos = start;
                None
            }
        }
    }
}

/// Parses a basis text. Never fails: what it cannot read is a remark.
pub(crate) fn parse(text: &str) -> Parsed {
    let mut out = Parsed::default();
    let mut last_law: Option<(LawName, Range<usize>)> = None;
    let mut offset = 0;
    for segment in text.split_inclusive(['；', ';']) {
        let seg_start = offset;
        offset += segment.len();
        let body = segment.trim_end_matches(['；', ';']);
        let mut c = Cursor {
            text,
            pos: seg_start,
        };
        let end = seg_start + body.len();
        c.skip_spaces();
        if c.eat('《') {
            let name_start = c.pos;
            let Some(close) = c.rest().find('》') else {
                continue;
            };
            if name_start + close > end {
                continue;
            }
            let title = text.get(name_start..name_start + close).unwrap_or("");
            c.pos = name_start + close + '》'.len_utf8();
            let law = (
                LawName::Title(title.trim().to_owned()),
                name_start..name_start + close,
            );
            out.laws.push(law.clone());
            last_law = Some(law);
            c.skip_spaces();
            c.skip_remark();
        } else if let Some((id, span)) = short_form_law(&mut c) {
            let law = (LawName::Id(id), span);
            out.laws.push(law.clone());
            last_law = Some(law);
            short_form_articles(&mut c, end, last_law.as_ref(), &mut out.citations);
            continue;
        }
        articles(&mut c, end, last_law.as_ref(), &mut out.citations);
    }
    out
}

/// `id §` at the cursor: an ASCII id followed by `§`.
fn short_form_law(c: &mut Cursor<'_>) -> Option<(String, Range<usize>)> {
    let start = c.pos;
    let id_len = c
        .rest()
        .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '-'))
        .unwrap_or(c.rest().len());
    if id_len == 0 {
        return None;
    }
    let id = c.rest().get(..id_len)?.to_owned();
    c.pos += id_len;
    c.skip_spaces();
    if c.peek() != Some('§') {
        c.pos = start;
        return None;
    }
    Some((id, start..start + id_len))
}

/// `§25.2.1, §28` after a short-form law id.
fn short_form_articles(
    c: &mut Cursor<'_>,
    end: usize,
    law: Option<&(LawName, Range<usize>)>,
    out: &mut Vec<Written>,
) {
    loop {
        c.skip_spaces();
        if c.pos >= end || !c.eat('§') {
            return;
        }
        let start = c.pos - '§'.len_utf8();
        c.skip_spaces();
        let mut numbers = Vec::new();
        loop {
            let n_start = c.pos;
            while c.peek().is_some_and(|ch| ch.is_ascii_digit()) {
                c.bump();
            }
            match c
                .text
                .get(n_start..c.pos)
                .and_then(|s| s.parse::<u32>().ok())
            {
                Some(n) if n > 0 => numbers.push(n),
                _ => return,
            }
            if numbers.len() == 3 || !c.eat('.') {
                break;
            }
        }
        let mut n = numbers.into_iter();
        if let (Some(article), Some((name, law_span))) = (n.next(), law) {
            out.push(Written {
                law: name.clone(),
                law_span: law_span.clone(),
                article,
                paragraph: n.next(),
                item: n.next(),
                through: None,
                span: start..c.pos,
            });
        }
        c.skip_spaces();
        if !(c.eat(',') || c.eat('，') || c.eat('、')) {
            return;
        }
    }
}

/// `第五十七条第一款第二项、第三项；` and ranges, up to `end`.
fn articles(
    c: &mut Cursor<'_>,
    end: usize,
    law: Option<&(LawName, Range<usize>)>,
    out: &mut Vec<Written>,
) {
    let mut current: Option<Written> = None;
    let mut after_separator = false;
    while c.pos < end {
        c.skip_spaces();
        if c.skip_remark() {
            continue;
        }
        if c.eat('、') || c.eat('，') || c.eat(',') || c.eat('和') || c.eat('及') {
            after_separator = true;
            continue;
        }
        if c.eat('至') {
            c.skip_spaces();
            if let Some((n, '条', span)) = c.numbered()
                && let Some(cur) = current.as_mut()
            {
                cur.through = Some(n);
                cur.span.end = span.end;
            }
            continue;
        }
        let Some((n, unit, span)) = c.numbered() else {
            break;
        };
        let (law_name, law_span) = match law {
            Some((name, s)) => (name.clone(), s.clone()),
            None => (LawName::Implied, span.clone()),
        };
        match unit {
            '条' => {
                out.extend(current.take());
                current = Some(Written {
                    law: law_name,
                    law_span,
                    article: n,
                    paragraph: None,
                    item: None,
                    through: None,
                    span,
                });
            }
            '款' => match current.as_mut() {
                Some(cur) if cur.paragraph.is_none() && !after_separator => {
                    cur.paragraph = Some(n);
                    cur.span.end = span.end;
                }
                Some(cur) => {
                    let next = Written {
                        paragraph: Some(n),
                        item: None,
                        through: None,
                        span,
                        ..cur.clone()
                    };
                    out.extend(current.replace(next));
                }
                None => {}
            },
            _ => match current.as_mut() {
                Some(cur) if cur.item.is_none() && !after_separator => {
                    cur.item = Some(n);
                    cur.span.end = span.end;
                }
                Some(cur) => {
                    let next = Written {
                        item: Some(n),
                        through: None,
                        span,
                        ..cur.clone()
                    };
                    out.extend(current.replace(next));
                }
                None => {}
            },
        }
        after_separator = false;
    }
    out.extend(current);
}

/// The citations of every basis in a procedure, by the start of the basis string's span.
#[derive(Debug, Default)]
pub(crate) struct Cited {
    by_span: HashMap<usize, Vec<Citation>>,
}

impl Cited {
    /// The citations of one element's basis.
    pub(crate) fn of(&self, m: &RawMeta) -> Vec<Citation> {
        m.basis
            .as_ref()
            .and_then(|b| self.by_span.get(&b.span.start))
            .cloned()
            .unwrap_or_default()
    }
}

/// Every element's meta in a raw procedure.
fn metas(raw: &RawProcedure) -> Vec<&RawMeta> {
    let mut out = vec![&raw.header.meta];
    out.extend(raw.roles.iter());
    out.extend(raw.documents.iter());
    out.extend(raw.facts.iter().map(|f| &f.meta));
    out.extend(raw.states.iter().map(|s| &s.meta));
    for t in &raw.tracks {
        out.push(&t.meta);
        out.extend(t.states.iter());
    }
    for a in &raw.actions {
        out.push(&a.meta);
        out.extend(a.payload.iter().map(|f| &f.meta));
        out.extend(a.conditions.iter().map(|c| &c.meta));
        out.extend(a.max_times.iter().map(|b| &b.meta));
    }
    out.extend(raw.time.iter().map(|t| &t.meta));
    for i in &raw.invariants {
        out.push(&i.meta);
        out.extend(i.conditions.iter().map(|c| &c.meta));
    }
    out
}

/// Parses every basis of a procedure and checks its citations against `laws` (when the
/// list is not empty): unknown laws and articles beyond a law's count are errors, a law
/// repealed before `valid_from` a warning.
pub(crate) fn check(
    cx: &mut Cx<'_>,
    laws: &Laws,
    raw: &RawProcedure,
    valid_from: Option<NaiveDate>,
) -> Cited {
    let mut cited = Cited::default();
    // The procedure's own law: the first one its header's basis names.
    let own = raw
        .header
        .meta
        .basis
        .as_ref()
        .and_then(|b| parse(&b.v).laws.into_iter().next());
    let mut warned_repealed: Vec<String> = Vec::new();
    // Without a list of laws, citations are parsed and kept, not checked.
    let checked = !laws.is_empty();
    // What refuses must say why in law: actions, time rules and invariants.
    let refusing = raw
        .actions
        .iter()
        .map(|a| ("action", &a.meta))
        .chain(raw.time.iter().map(|t| ("time rule", &t.meta)))
        .chain(raw.invariants.iter().map(|i| ("invariant", &i.meta)));
    for (what, m) in refusing.filter(|_| checked) {
        let (span, empty) = match &m.basis {
            None => (m.id.span.clone(), false),
            Some(b) if b.v.trim().is_empty() => (b.span.clone(), true),
            Some(_) => continue,
        };
        cx.warning(
            "missing-basis",
            span,
            format!(
                "{what} `{}` has {} basis: a refusal it gives can cite no article",
                m.id.v,
                if empty { "an empty" } else { "no" }
            ),
        )
        .help = Some(
            "add `basis = \"《...》第...条\"` with the article it implements; where the law is unsure, say so in the text (`（UNCONFIRMED）`)".into(),
        );
    }
    for m in metas(raw) {
        let Some(basis) = &m.basis else { continue };
        if basis.v.trim().is_empty() {
            continue;
        }
        let parsed = parse(&basis.v);
        if checked && parsed.citations.is_empty() && parsed.laws.is_empty() {
            cx.warning(
                "unparsed-basis",
                basis.span.clone(),
                format!("the basis `{}` cites no law or article fazhi can read", basis.v),
            )
            .help = Some(
                "write the law in book-title marks and the article: `《行政处罚法》第四十四条`; a refusal citing this element carries the text only, without `law` and `article`".into(),
            );
        }
        let offsets = cx.string_offsets(&basis.v, &basis.span);
        let at = |r: &Range<usize>| Cx::span_within(offsets.as_deref(), &basis.span, r);
        // Laws named without articles are checked too.
        for (name, span) in &parsed.laws {
            lookup(cx, laws, name, &at(span));
        }
        let mut out = Vec::new();
        for w in parsed.citations {
            let (name, law_span) = match (&w.law, &own) {
                (LawName::Implied, Some((n, s))) => (n.clone(), s.clone()),
                (LawName::Implied, None) if !checked => continue,
                (LawName::Implied, None) => {
                    cx.warning(
                        "unparsed-basis",
                        at(&w.span),
                        format!(
                            "`{}` names no law, and the procedure's own basis names none either",
                            basis.v
                        ),
                    )
                    .help = Some(
                        "name the law in book-title marks: `《重大行政决策程序暂行条例》第二十五条`"
                            .into(),
                    );
                    continue;
                }
                (n, _) => (n.clone(), w.law_span.clone()),
            };
            let span = if matches!(w.law, LawName::Implied) {
                at(&w.span)
            } else {
                at(&law_span)
            };
            let (law, law_title) = match (&name, laws.is_empty()) {
                (LawName::Title(t), true) | (LawName::Id(t), true) => (t.clone(), t.clone()),
                (_, false) => match lookup_quiet(laws, &name) {
                    Some(l) => {
                        let title = match &name {
                            LawName::Title(t) => t.clone(),
                            _ => l.title.clone(),
                        };
                        (l.id.clone(), title)
                    }
                    // Reported once per name above, or (implied) at the header.
                    None => continue,
                },
                (LawName::Implied, true) => continue,
            };
            if let Some(l) = laws.get(&law) {
                if let Some(max) = l.articles {
                    let highest = w.through.unwrap_or(w.article).max(w.article);
                    if highest > max {
                        cx.error(
                            "article-out-of-range",
                            at(&w.span),
                            format!(
                                "《{}》 has {max} articles; there is no article {highest}",
                                l.title
                            ),
                        )
                        .help = Some(format!(
                            "check the article number against the text of 《{}》 ({})",
                            l.title,
                            l.number.as_deref().unwrap_or("see rules/laws.toml")
                        ));
                        continue;
                    }
                }
                if let Some(repealed) = l.repealed
                    && valid_from.is_none_or(|v| v >= repealed)
                    && !warned_repealed.contains(&l.id)
                {
                    warned_repealed.push(l.id.clone());
                    let replaced = l
                        .replaced_by
                        .as_deref()
                        .and_then(|r| laws.get(r))
                        .map(|r| format!("cite 《{}》 instead", r.title))
                        .unwrap_or_else(|| "cite the law in force".into());
                    let when = match valid_from {
                        Some(v) => format!("before this procedure's `valid_from` ({v})"),
                        None => "and this procedure gives no `valid_from`".into(),
                    };
                    cx.warning(
                        "repealed-law",
                        span,
                        format!("《{}》 was repealed on {repealed}, {when}", l.title),
                    )
                    .help = Some(format!(
                        "{replaced}, or set `valid_from` in `[procedure]` to a day before {repealed} if this version is for cases of that time"
                    ));
                }
            }
            out.push(Citation {
                law,
                law_title,
                article: w.article,
                paragraph: w.paragraph,
                item: w.item,
                through: w.through,
            });
        }
        cited.by_span.insert(basis.span.start, out);
    }
    cited
}

fn lookup_quiet<'l>(laws: &'l Laws, name: &LawName) -> Option<&'l crate::model::Law> {
    match name {
        LawName::Title(t) => laws.by_title(t),
        LawName::Id(i) => laws.get(i),
        LawName::Implied => None,
    }
}

/// Reports a law that is not in the list (when there is a list).
fn lookup(cx: &mut Cx<'_>, laws: &Laws, name: &LawName, span: &Range<usize>) {
    if laws.is_empty() || lookup_quiet(laws, name).is_some() {
        return;
    }
    let (what, known): (String, Vec<String>) = match name {
        LawName::Title(t) => (
            format!("《{t}》"),
            laws.iter().map(|l| l.title.clone()).collect(),
        ),
        LawName::Id(i) => (
            format!("`{i}`"),
            laws.iter().map(|l| l.id.clone()).collect(),
        ),
        LawName::Implied => return,
    };
    let needle = match name {
        LawName::Title(t) | LawName::Id(t) => t.as_str(),
        LawName::Implied => "",
    };
    let help = super::diagnostic::did_you_mean(needle, known.iter().map(String::as_str))
        .unwrap_or_else(|| {
            "add the law to `rules/laws.toml` (id, title, number, in_force, articles), or cite one listed there".into()
        });
    cx.error(
        "unknown-law",
        span.clone(),
        format!("{what} is not in the list of laws (`rules/laws.toml`)"),
    )
    .help = Some(help);
}

/// A date from `valid_from`, when it parses.
pub(crate) fn date(s: &S<String>) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&s.v, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = (LawName, u32, Option<u32>, Option<u32>, Option<u32>);

    fn cites(text: &str) -> Vec<Row> {
        parse(text)
            .citations
            .into_iter()
            .map(|w| (w.law, w.article, w.paragraph, w.item, w.through))
            .collect()
    }

    fn t(s: &str) -> LawName {
        LawName::Title(s.into())
    }

    #[test]
    fn chinese_numbers_read_as_written_in_statutes() {
        for (s, n) in [
            ("一", 1),
            ("十", 10),
            ("十五", 15),
            ("二十", 20),
            ("二十五", 25),
            ("一百", 100),
            ("一百零五", 105),
            ("一百一十", 110),
            ("二百零六", 206),
            ("两百", 200),
            ("一千二百六十", 1260),
            ("42", 42),
        ] {
            assert_eq!(parse_number(s), Some(n), "{s}");
            if n < 10_000 && !s.contains('两') && !s.chars().all(|c| c.is_ascii_digit()) {
                assert_eq!(crate::model::chinese_number(n), s);
            }
        }
        for bad in ["", "零", "二二", "abc", "0"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn articles_paragraphs_items_and_their_continuations() {
        assert_eq!(
            cites("《行政处罚法》第五十七条第一款第二项、第三项"),
            vec![
                (t("行政处罚法"), 57, Some(1), Some(2), None),
                (t("行政处罚法"), 57, Some(1), Some(3), None),
            ]
        );
        assert_eq!(
            cites("《重大行政决策程序暂行条例》第十六条第二款、第三款"),
            vec![
                (t("重大行政决策程序暂行条例"), 16, Some(2), None, None),
                (t("重大行政决策程序暂行条例"), 16, Some(3), None, None),
            ]
        );
        assert_eq!(
            cites("《重大行政决策程序暂行条例》第二十五条第二款、第二十七条、第二十八条"),
            vec![
                (t("重大行政决策程序暂行条例"), 25, Some(2), None, None),
                (t("重大行政决策程序暂行条例"), 27, None, None, None),
                (t("重大行政决策程序暂行条例"), 28, None, None, None),
            ]
        );
    }

    #[test]
    fn several_laws_ranges_remarks_and_notes() {
        assert_eq!(
            cites("《人民调解法》第三十三条第一款；《民事诉讼法》第二百零五条"),
            vec![
                (t("人民调解法"), 33, Some(1), None, None),
                (t("民事诉讼法"), 205, None, None, None),
            ]
        );
        assert_eq!(
            cites("《重大行政决策程序暂行条例》第二十五条至第二十八条、第四十二条"),
            vec![
                (t("重大行政决策程序暂行条例"), 25, None, None, Some(28)),
                (t("重大行政决策程序暂行条例"), 42, None, None, None),
            ]
        );
        assert_eq!(
            cites("《行政处罚法》第四十五条第二款（不得因陈述、申辩而给予更重的处罚）、第五十七条"),
            vec![
                (t("行政处罚法"), 45, Some(2), None, None),
                (t("行政处罚法"), 57, None, None, None),
            ]
        );
        // A law named with its number, then an article in the next part.
        assert_eq!(
            cites("《重大行政决策程序暂行条例》（国务院令第713号）；第四十二条（参照执行）"),
            vec![(t("重大行政决策程序暂行条例"), 42, None, None, None)]
        );
        // A remark part cites nothing.
        assert_eq!(
            cites("《行政处罚法》第六十条；市场监管行业规章（二手来源，UNCONFIRMED）"),
            vec![(t("行政处罚法"), 60, None, None, None)]
        );
        assert!(cites("本地规定（示例）").is_empty());
        assert_eq!(
            cites("第二十六条第二款"),
            vec![(LawName::Implied, 26, Some(2), None, None)]
        );
    }

    #[test]
    fn the_short_form() {
        assert_eq!(
            cites("713 §25.2, §28；apl §57.1.2"),
            vec![
                (LawName::Id("713".into()), 25, Some(2), None, None),
                (LawName::Id("713".into()), 28, None, None, None),
                (LawName::Id("apl".into()), 57, Some(1), Some(2), None),
            ]
        );
    }

    #[test]
    fn nothing_panics_on_odd_text() {
        for s in [
            "《",
            "》",
            "《》",
            "第",
            "第十",
            "第十款",
            "§",
            "713 §",
            "713 §.",
            "（",
            "第一条至",
            "第一条至第",
            "；；",
            "《a》第一条（",
            "第九千九百九十九万条",
        ] {
            let _ = parse(s);
        }
    }
}
