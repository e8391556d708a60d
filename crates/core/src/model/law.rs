//! Laws and citations: what a `basis` means once it is parsed.
//!
//! `rules/laws.toml` lists the laws the rule files cite; a `basis` such as
//! `"《行政处罚法》第四十四条；《重大行政决策程序暂行条例》第二十五条第二款"` becomes a list
//! of [`Citation`]s, each naming a law of that list, an article and, where given, a
//! paragraph (款) and an item (项).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A law (or regulation, rule, normative document) that rule files cite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Law {
    /// The id rule files may use in the short form (`713 §25.2`) and that citations carry.
    pub id: String,
    /// The full title, without book-title marks (`重大行政决策程序暂行条例`).
    pub title: String,
    /// Other titles it is cited by (`行政处罚法` for `中华人民共和国行政处罚法`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Its document number (`国务院令第713号`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The day it came into force, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_force: Option<NaiveDate>,
    /// The day it was repealed, when it has been.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repealed: Option<NaiveDate>,
    /// The id of the law that replaced it, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    /// How many articles it has, when known: a citation beyond is an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub articles: Option<u32>,
}

/// The laws rule files may cite, by id and by title.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Laws {
    by_id: BTreeMap<String, Law>,
    by_title: BTreeMap<String, String>,
}

impl Laws {
    /// An empty list: citations are parsed but not checked against any law.
    pub fn new() -> Self {
        Laws::default()
    }

    /// Adds a law; returns `false` (and keeps the first) when its id is taken.
    pub fn insert(&mut self, law: Law) -> bool {
        if self.by_id.contains_key(&law.id) {
            return false;
        }
        for t in std::iter::once(&law.title).chain(&law.aliases) {
            self.by_title.entry(t.clone()).or_insert(law.id.clone());
            if let Some(short) = t.strip_prefix("中华人民共和国") {
                self.by_title
                    .entry(short.to_owned())
                    .or_insert(law.id.clone());
            }
        }
        self.by_id.insert(law.id.clone(), law);
        true
    }

    /// The law with this id.
    pub fn get(&self, id: &str) -> Option<&Law> {
        self.by_id.get(id)
    }

    /// The law cited by this title (the full title, an alias, or the title without
    /// `中华人民共和国`).
    pub fn by_title(&self, title: &str) -> Option<&Law> {
        self.by_title.get(title).and_then(|id| self.by_id.get(id))
    }

    /// Every law, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Law> {
        self.by_id.values()
    }

    /// Whether the list is empty (then citations are not checked).
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// One article (or paragraph, or item) a basis cites.
///
/// ```
/// use fazhi_core::model::Citation;
/// let c = Citation {
///     law: "apl".into(), law_title: "行政处罚法".into(),
///     article: 57, paragraph: Some(1), item: Some(2), through: None,
/// };
/// assert_eq!(c.readable(), "《行政处罚法》第五十七条第一款第二项");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Citation {
    /// The law's id in `rules/laws.toml` (its title as written when no list of laws is loaded).
    pub law: String,
    /// The law's title as cited (`行政处罚法`).
    pub law_title: String,
    /// The article (条).
    pub article: u32,
    /// The paragraph (款), when cited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paragraph: Option<u32>,
    /// The item (项), when cited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<u32>,
    /// For a range of articles (`第二十五条至第二十八条`), the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<u32>,
}

impl Citation {
    /// The citation as people write it: `《行政处罚法》第五十七条第一款第二项`.
    pub fn readable(&self) -> String {
        let mut s = format!("《{}》第{}条", self.law_title, chinese_number(self.article));
        if let Some(p) = self.paragraph {
            s.push_str(&format!("第{}款", chinese_number(p)));
        }
        if let Some(i) = self.item {
            s.push_str(&format!("第{}项", chinese_number(i)));
        }
        if let Some(t) = self.through {
            s.push_str(&format!("至第{}条", chinese_number(t)));
        }
        s
    }
}

/// A number as Chinese legal texts write article numbers: `二十五`, `一百零五`, `二百`.
///
/// ```
/// use fazhi_core::model::chinese_number;
/// assert_eq!(chinese_number(10), "十");
/// assert_eq!(chinese_number(25), "二十五");
/// assert_eq!(chinese_number(105), "一百零五");
/// assert_eq!(chinese_number(1260), "一千二百六十");
/// ```
pub fn chinese_number(n: u32) -> String {
    const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    let digit = |d: u32| DIGITS.get(d as usize).copied().unwrap_or("");
    if n == 0 {
        return "零".into();
    }
    if n >= 10_000 {
        return n.to_string();
    }
    let parts = [
        (n / 1000, "千"),
        ((n / 100) % 10, "百"),
        ((n / 10) % 10, "十"),
    ];
    let mut out = String::new();
    let mut zero = false;
    for (d, unit) in parts {
        if d == 0 {
            zero = !out.is_empty();
            continue;
        }
        if zero {
            out.push('零');
            zero = false;
        }
        // 十 alone for 10-19, but 一十 inside a larger number (一百一十).
        if !(unit == "十" && d == 1 && out.is_empty()) {
            out.push_str(digit(d));
        }
        out.push_str(unit);
    }
    let ones = n % 10;
    if ones != 0 {
        if zero {
            out.push('零');
        }
        out.push_str(digit(ones));
    }
    out
}
