//! The TOML tree the loader reads: tables as vectors of spanned keys and values, built
//! straight from `toml_parser` events.
//!
//! A rule file is parsed once by a fast builder that understands the TOML rule files are
//! written in (tables, dotted keys, inline tables, arrays) and gives up on anything else
//! (an array of tables, a dotted key inside an inline table, any error or conflict). When it
//! gives up, the file is parsed again by `toml`'s own [`DeTable`] parser, whose errors the
//! loader reports as they always were, and whose tree is converted. So every diagnostic of a
//! broken file comes from the same parser as before, and a file that loads gives the same
//! tree, with the same spans, either way.

use std::borrow::Cow;
use std::collections::HashMap;

use smallvec::SmallVec;
use toml::Spanned;
use toml::de::{DeTable, DeValue};
use toml::value::Datetime;
use toml_parser::decoder::{Encoding, ScalarKind};
use toml_parser::parser::{Event, EventKind, RecursionGuard, ValidateWhitespace};
use toml_parser::{ErrorSink, ParseError, Source};

/// A key with where it is written.
pub(crate) type Key<'i> = Spanned<Cow<'i, str>>;

/// A number as written (underscores kept), with its radix for integers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Number<'i> {
    text: Cow<'i, str>,
    radix: u32,
}

impl Number<'_> {
    /// The digits as written, without a radix prefix.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }
    /// 10, or 16, 8, 2 for `0x`, `0o`, `0b` integers.
    pub(crate) fn radix(&self) -> u32 {
        self.radix
    }
}

/// A TOML value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'i> {
    String(Cow<'i, str>),
    Integer(Number<'i>),
    Float(Number<'i>),
    Boolean(bool),
    Datetime(Datetime),
    Array(Vec<Spanned<Value<'i>>>),
    Table(Table<'i>),
}

/// Above this many keys a table keeps an index from key to entry.
const INDEXED: usize = 16;

/// A TOML table: its entries in the order they were made (readers sort them by span).
#[derive(Clone, Default)]
pub(crate) struct Table<'i> {
    entries: Vec<(Key<'i>, Spanned<Value<'i>>)>,
    index: Option<HashMap<Cow<'i, str>, usize, foldhash::fast::FixedState>>,
    /// Made only as the parent of a table or of a dotted key, not defined by a header.
    implicit: bool,
    /// Made by a dotted key.
    dotted: bool,
    /// Written `{ ... }`.
    inline: bool,
}

impl std::fmt::Debug for Table<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.entries).finish()
    }
}

impl PartialEq for Table<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl<'i> Table<'i> {
    /// The entries, keys with values.
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = (&Key<'i>, &Spanned<Value<'i>>)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    fn find(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| k.get_ref() == key),
        }
    }

    fn push(&mut self, key: Key<'i>, value: Spanned<Value<'i>>) -> usize {
        let at = self.entries.len();
        if let Some(index) = &mut self.index {
            index.insert(key.get_ref().clone(), at);
        } else if at + 1 > INDEXED {
            let mut index = HashMap::with_capacity_and_hasher(2 * at, Default::default());
            for (i, (k, _)) in self.entries.iter().enumerate() {
                index.insert(k.get_ref().clone(), i);
            }
            index.insert(key.get_ref().clone(), at);
            self.index = Some(index);
        }
        self.entries.push((key, value));
        at
    }

    fn table_at(&mut self, at: usize) -> Option<&mut Table<'i>> {
        match self.entries.get_mut(at).map(|(_, v)| v.get_mut()) {
            Some(Value::Table(t)) => Some(t),
            _ => None,
        }
    }
}

/// Parses a rule file: its root table (spanned `0..0`, as `toml` does), or every TOML error.
pub(crate) fn parse(text: &str) -> Result<Spanned<Table<'_>>, Vec<toml::de::Error>> {
    if let Some(root) = fast(text) {
        return Ok(Spanned::new(0..0, root));
    }
    let (root, errors) = DeTable::parse_recoverable(text);
    if errors.is_empty() {
        Ok(Spanned::new(root.span(), from_de(root.get_ref())))
    } else {
        Err(errors)
    }
}

/// The tree of a table `toml` parsed.
pub(crate) fn from_de<'i>(table: &DeTable<'i>) -> Table<'i> {
    let mut out = Table::default();
    for (k, v) in table {
        out.push(
            k.clone(),
            Spanned::new(v.span(), value_from_de(v.get_ref())),
        );
    }
    out
}

fn value_from_de<'i>(v: &DeValue<'i>) -> Value<'i> {
    match v {
        DeValue::String(s) => Value::String(s.clone()),
        DeValue::Integer(i) => Value::Integer(Number {
            text: Cow::Owned(i.as_str().to_owned()),
            radix: i.radix(),
        }),
        DeValue::Float(f) => Value::Float(Number {
            text: Cow::Owned(f.as_str().to_owned()),
            radix: 10,
        }),
        DeValue::Boolean(b) => Value::Boolean(*b),
        DeValue::Datetime(d) => Value::Datetime(*d),
        DeValue::Array(a) => Value::Array(
            a.iter()
                .map(|v| Spanned::new(v.span(), value_from_de(v.get_ref())))
                .collect(),
        ),
        DeValue::Table(t) => Value::Table(from_de(t)),
    }
}

/// Records that the parser saw an error: the fast path then gives up.
#[derive(Default)]
struct Failed(bool);

impl ErrorSink for Failed {
    fn report_error(&mut self, _error: ParseError) {
        self.0 = true;
    }
}

/// The depth `toml` allows arrays and inline tables to nest.
const LIMIT: u32 = 80;

/// The tree, when the file is plain TOML without any error; `None` to leave it to `toml`.
fn fast(text: &str) -> Option<Table<'_>> {
    let source = Source::new(text);
    // About one token per 2.5 bytes in rule files (`toml` guesses one per 3.5, and regrows).
    let mut tokens = Vec::with_capacity(text.len() / 2 + 16);
    tokens.extend(source.lex());
    let mut events = Vec::with_capacity(tokens.len() / 2 + 16);
    let mut failed = Failed::default();
    {
        let mut push = |e: Event| {
            if !matches!(
                e.kind(),
                EventKind::Whitespace | EventKind::Comment | EventKind::Newline
            ) {
                events.push(e);
            }
        };
        let mut validate = ValidateWhitespace::new(&mut push, source);
        let mut guard = RecursionGuard::new(&mut validate, LIMIT);
        toml_parser::parser::parse_document(&tokens, &mut guard, &mut failed);
    }
    drop(tokens);
    if failed.0 {
        return None;
    }
    let mut b = Builder {
        source,
        events: &events,
        at: 0,
        failed,
    };
    let root = b.document()?;
    (!b.failed.0).then_some(root)
}

/// A table header being read: the keys leading to it, and its span.
struct Header<'i> {
    path: Path<'i>,
    key: Key<'i>,
    span: std::ops::Range<usize>,
}

type Path<'i> = SmallVec<[Key<'i>; 2]>;

struct Builder<'i, 'e> {
    source: Source<'i>,
    events: &'e [Event],
    at: usize,
    failed: Failed,
}

impl<'i> Builder<'i, '_> {
    fn next(&mut self) -> Option<Event> {
        let e = self.events.get(self.at).copied();
        self.at += 1;
        e
    }

    fn peek(&self) -> Option<EventKind> {
        self.events.get(self.at).map(Event::kind)
    }

    fn expect(&mut self, kind: EventKind) -> Option<Event> {
        self.next().filter(|e| e.kind() == kind)
    }

    fn document(&mut self) -> Option<Table<'i>> {
        let mut root = Table::default();
        let mut current = Table::default();
        let mut header: Option<Header<'i>> = None;
        while let Some(event) = self.next() {
            match event.kind() {
                EventKind::StdTableOpen => {
                    finish_table(&mut root, &mut current, header.take())?;
                    let h = self.header(event)?;
                    start_table(&mut root, &mut current, &h)?;
                    header = Some(h);
                }
                EventKind::SimpleKey => {
                    let (path, key) = self.key(event)?;
                    self.expect(EventKind::KeyValSep)?;
                    let value = self.value()?;
                    let parent = descend(&mut current, &path, true)?;
                    if parent.find(key.get_ref()).is_some() {
                        return None;
                    }
                    parent.push(key, value);
                }
                _ => return None,
            }
        }
        finish_table(&mut root, &mut current, header)?;
        Some(root)
    }

    fn header(&mut self, open: Event) -> Option<Header<'i>> {
        let first = self.expect(EventKind::SimpleKey)?;
        let (path, key) = self.key(first)?;
        let close = self.expect(EventKind::StdTableClose)?;
        Some(Header {
            path,
            key,
            span: open.span().start()..close.span().end(),
        })
    }

    /// A key, simple or dotted: the keys before the last one, and the last.
    fn key(&mut self, first: Event) -> Option<(Path<'i>, Key<'i>)> {
        let mut path = Path::new();
        let mut key = self.decode_key(first);
        while self.peek() == Some(EventKind::KeySep) {
            self.at += 1;
            let next = self.expect(EventKind::SimpleKey)?;
            path.push(std::mem::replace(&mut key, self.decode_key(next)));
        }
        (path.len() < 16).then_some((path, key))
    }

    fn decode_key(&mut self, event: Event) -> Key<'i> {
        let span = event.span();
        let range = span.start()..span.end();
        let text = self.source.input().get(range.clone()).unwrap_or_default();
        // A bare key of ASCII letters, digits, `-` and `_` is itself; anything else is
        // decoded (and checked) by the parser.
        let bare = event.encoding().is_none()
            && !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if bare {
            return Spanned::new(range, Cow::Borrowed(text));
        }
        let mut decoded = Cow::Borrowed("");
        match self.source.get(event) {
            Some(raw) => raw.decode_key(&mut decoded, &mut self.failed),
            None => self.failed.0 = true,
        }
        Spanned::new(range, decoded)
    }

    fn value(&mut self) -> Option<Spanned<Value<'i>>> {
        let event = self.next()?;
        match event.kind() {
            EventKind::Scalar => self.scalar(event),
            EventKind::ArrayOpen => {
                let mut items = Vec::new();
                loop {
                    match self.peek()? {
                        EventKind::ArrayClose => break,
                        EventKind::ValueSep => self.at += 1,
                        _ => items.push(self.value()?),
                    }
                }
                let close = self.next()?;
                Some(Spanned::new(
                    event.span().start()..close.span().end(),
                    Value::Array(items),
                ))
            }
            EventKind::InlineTableOpen => {
                let mut table = Table {
                    inline: true,
                    ..Table::default()
                };
                let close = loop {
                    let e = self.next()?;
                    match e.kind() {
                        EventKind::InlineTableClose => break e,
                        EventKind::ValueSep => {}
                        EventKind::SimpleKey => {
                            let (path, key) = self.key(e)?;
                            self.expect(EventKind::KeyValSep)?;
                            let value = self.value()?;
                            if !path.is_empty() || table.find(key.get_ref()).is_some() {
                                return None;
                            }
                            table.push(key, value);
                        }
                        _ => return None,
                    }
                };
                Some(Spanned::new(
                    event.span().start()..close.span().end(),
                    Value::Table(table),
                ))
            }
            _ => None,
        }
    }

    fn scalar(&mut self, event: Event) -> Option<Spanned<Value<'i>>> {
        let span = event.span();
        let range = span.start()..span.end();
        // A one-line string without escapes or control characters is its text between the
        // quotes; anything else is decoded (and checked) by the parser.
        let text = self.source.input().get(range.clone())?;
        let plain = match event.encoding() {
            Some(Encoding::BasicString) => unquote(text, '"').filter(|t| {
                t.bytes()
                    .all(|b| matches!(b, 0x20 | 0x21 | 0x23..=0x5B | 0x5D..=0x7E | 0x80..=0xFF))
            }),
            Some(Encoding::LiteralString) => unquote(text, '\'').filter(|t| {
                t.bytes()
                    .all(|b| matches!(b, 0x20..=0x26 | 0x28..=0x7E | 0x80..=0xFF))
            }),
            _ => None,
        };
        if let Some(inner) = plain {
            return Some(Spanned::new(range, Value::String(Cow::Borrowed(inner))));
        }
        let raw = self.source.get(event)?;
        let mut decoded = Cow::Borrowed("");
        let kind = raw.decode_scalar(&mut decoded, &mut self.failed);
        let value = match kind {
            ScalarKind::String => Value::String(decoded),
            ScalarKind::Boolean(b) => Value::Boolean(b),
            ScalarKind::DateTime => Value::Datetime(decoded.parse::<Datetime>().ok()?),
            ScalarKind::Float => Value::Float(Number {
                text: decoded,
                radix: 10,
            }),
            ScalarKind::Integer(radix) => Value::Integer(Number {
                text: decoded,
                radix: radix.value(),
            }),
        };
        Some(Spanned::new(range, value))
    }
}

/// The text between the two `quote`s that open and close `text`.
fn unquote(text: &str, quote: char) -> Option<&str> {
    text.strip_prefix(quote)?.strip_suffix(quote)
}

/// Follows `path` from `table`, making implicit tables where there are none, as `toml`
/// does; `None` where `toml` would report a conflict (or meets an array of tables).
fn descend<'t, 'i>(
    mut table: &'t mut Table<'i>,
    path: &[Key<'i>],
    dotted: bool,
) -> Option<&'t mut Table<'i>> {
    for key in path {
        let at = match table.find(key.get_ref()) {
            None => table.push(
                key.clone(),
                Spanned::new(
                    key.span(),
                    Value::Table(Table {
                        implicit: true,
                        dotted,
                        ..Table::default()
                    }),
                ),
            ),
            Some(at) => {
                let child = table.table_at(at)?;
                if child.inline || (dotted && !child.implicit) {
                    return None;
                }
                if dotted {
                    child.dotted = true;
                }
                at
            }
        };
        table = table.table_at(at)?;
    }
    Some(table)
}

/// Opens the table of a header: a table made implicitly before keeps its children; any
/// other existing value is a conflict.
fn start_table<'i>(
    root: &mut Table<'i>,
    current: &mut Table<'i>,
    header: &Header<'i>,
) -> Option<()> {
    let parent = descend(root, &header.path, false)?;
    if let Some(at) = parent.find(header.key.get_ref()) {
        let old = parent.table_at(at)?;
        if !old.implicit || old.dotted || old.inline {
            return None;
        }
        *current = std::mem::take(old);
        // Marked so that a second header for the same table is refused.
        old.implicit = false;
    }
    current.implicit = false;
    current.dotted = false;
    // Room for the keys of an action (title, from, to, by, when and one more) at once.
    if current.entries.capacity() == 0 {
        current.entries.reserve_exact(6);
    }
    Some(())
}

/// Puts the table just read where its header says.
fn finish_table<'i>(
    root: &mut Table<'i>,
    current: &mut Table<'i>,
    header: Option<Header<'i>>,
) -> Option<()> {
    let table = std::mem::take(current);
    let Some(header) = header else {
        *root = table;
        return Some(());
    };
    let parent = descend(root, &header.path, false)?;
    let value = Spanned::new(header.span, Value::Table(table));
    match parent.find(header.key.get_ref()) {
        Some(at) => {
            let entry = parent.entries.get_mut(at)?;
            *entry = (header.key, value);
        }
        None => {
            parent.push(header.key, value);
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast tree and `toml`'s, compared with spans.
    fn same(text: &str) {
        let (de, errors) = DeTable::parse_recoverable(text);
        assert!(errors.is_empty(), "{errors:?}");
        let slow = from_de(de.get_ref());
        let fast = fast(text).expect("the fast path reads it");
        assert_eq!(sorted(&fast), sorted(&slow), "{text}");
    }

    /// Entries sorted by key span, recursively, with spans.
    fn sorted(t: &Table<'_>) -> Vec<(std::ops::Range<usize>, String, String)> {
        let mut out: Vec<_> = t
            .iter()
            .map(|(k, v)| {
                let inner = match v.get_ref() {
                    Value::Table(t) => format!("{:?}", sorted(t)),
                    other => format!("{other:?}"),
                };
                (k.span(), format!("{}@{:?}", k.get_ref(), v.span()), inner)
            })
            .collect();
        out.sort_by_key(|(s, _, _)| s.start);
        out
    }

    #[test]
    fn the_fast_tree_is_the_tree_toml_makes() {
        same("a = 1\nb = \"x\"\n[t]\nc = [1, 2, { d = 'e' }]\n");
        same("[a.b.c]\nx = 1\n[a]\ny = 2\n[a.b]\nz = 3\n");
        same("[p]\nwhen.one = \"x\"\nwhen.two = { if = \"y\", title = \"标题\" }\n");
        same("\"quoted key\" = 1\n'lit' = 2\n[\"x.y\".z]\nd = 1979-05-27\nf = 1.5e3\nh = 0x1F\n");
        same("[t]\n# comment\nv = \"\"\"\nmulti\\nline\"\"\"\nw = '''raw'''\n");
        let mut big = String::from("[s]\n");
        for i in 0..40 {
            big.push_str(&format!("k{i} = {{ title = \"t{i}\" }}\n"));
        }
        for i in 0..40 {
            big.push_str(&format!("[a.x{i}]\ntitle = \"{i}\"\n"));
        }
        same(&big);
    }

    #[test]
    fn the_fast_path_gives_up_where_toml_reports_or_differs() {
        for text in [
            "a = 1\na = 2\n",
            "[t]\n[t]\n",
            "[t]\nx = 1\n[t.x]\n",
            "a = { b = 1 }\n[a]\n",
            "a = { b = 1, b = 2 }\n",
            "a = { b.c = 1 }\n",
            "[[arr]]\nx = 1\n",
            "[a]\nb.c = 1\n[a.b]\n",
            "[a.b]\n[a]\nb = 1\n",
            "x = \"bad \\q escape\"\n",
            "d = 1979-13-45\n",
            "k = \n",
        ] {
            assert!(fast(text).is_none(), "{text}");
        }
    }

    /// One-line deletions, duplications and a bounded set of insertions of a shipped
    /// rule file (with dotted keys and tables of conditions added): whenever the fast path
    /// reads a mutant, `toml` reads it without error into the same tree; where it does not,
    /// [`parse`] gives exactly `toml`'s errors.
    #[test]
    fn mutants_read_by_the_fast_path_are_read_the_same_by_toml() {
        let base = format!(
            "{}{}",
            include_str!("../../../../rules/village-rules-filing.toml"),
            "\n[actions.extra]\nwhen.first = \"a\"\nwhen.second = { if = 'b', title = \"乙\" }\n\
             sets = { n = \"1\", \"k\\u00e9y\" = \"x\\ty\" }\n[actions.extra.payload.p]\ntype = \"text\"\n\
             [x.y]\nz.w = [1, [2, 3], { a = 1979-05-27T07:32:00+08:00 }]\n"
        );
        let lines: Vec<&str> = base.lines().collect();
        let mut mutants = Vec::new();
        for i in (0..lines.len()).step_by(2) {
            let mut without = lines.clone();
            without.remove(i);
            mutants.push(without.join("\n"));
            let mut twice = lines.clone();
            twice.insert(i, lines[i]);
            mutants.push(twice.join("\n"));
        }
        let inserts = [
            "[", "]", "=", ".", "\"", "'", "{", "}", ",", "x.", "[[", "\\", "\u{0}",
        ];
        let mut at = 7usize;
        for k in 0..60 {
            at = (at * 31 + 17) % base.len();
            if let Some(i) = (at..base.len()).find(|i| base.is_char_boundary(*i)) {
                mutants.push(format!(
                    "{}{}{}",
                    &base[..i],
                    inserts[k % inserts.len()],
                    &base[i..]
                ));
            }
        }
        let (mut fast_read, mut refused) = (0, 0);
        for m in &mutants {
            let (de, errors) = DeTable::parse_recoverable(m);
            match fast(m) {
                Some(tree) => {
                    fast_read += 1;
                    assert!(errors.is_empty(), "{errors:?}\n{m}");
                    assert_eq!(sorted(&tree), sorted(&from_de(de.get_ref())), "{m}");
                }
                None => {
                    let got = parse(m).err().unwrap_or_default();
                    let messages = |e: &[toml::de::Error]| {
                        e.iter()
                            .map(|e| (e.span(), e.message().to_owned()))
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(messages(&got), messages(&errors), "{m}");
                    refused += 1;
                }
            }
        }
        assert!(fast_read > 50 && refused > 50, "{fast_read} {refused}");
    }

    #[test]
    fn a_file_toml_refuses_gives_its_errors() {
        let errors = parse("[t]\n[t]\n").expect_err("a table defined twice");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message().contains("duplicate key"));
        assert!(parse("[[arr]]\nx = 1\n[[arr]]\nx = 2\n").is_ok());
    }
}
