//! The languages of the messages people read: every refusal reason and deadline description
//! is built here once, in Chinese from the rule file's titles and in English beside it, and
//! the caller picks one with [`Lang`].

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Citation, Meta};
use crate::time::{Period, cst_date, fmt_cst};

/// A language of messages. Chinese unless asked otherwise: the people who read refusals and
/// deadlines are Chinese legal officers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Chinese (`zh`), built from the rule files' titles.
    #[default]
    Zh,
    /// English (`en`), built from the `title_en` the rule files give, else the ids.
    En,
}

impl Lang {
    /// The language of a BCP 47 tag (`zh`, `zh-CN`, `zh-Hans`, `en`, `en-US`; any case), or
    /// `None` for another language.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("zh") {
            Some(Lang::Zh)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// Its code: `zh` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::from_tag(s)
            .ok_or_else(|| format!("`{s}` is not a language fazhi speaks: use `zh` or `en`"))
    }
}

/// An element's name in Chinese messages: its title in Chinese quotes (`“合法性审查”`).
pub(crate) fn zh(meta: &Meta) -> String {
    format!("“{}”", meta.title)
}

/// An element's name in English messages: its English title in quotes when the rule file
/// gives one (`“legality review”`), else its id in backticks.
pub(crate) fn en(meta: &Meta) -> String {
    match &meta.title_en {
        Some(t) => format!("“{t}”"),
        None => format!("`{}`", meta.id),
    }
}

/// A period in Chinese: `15日`, `5个工作日`, `24小时`, `3个月`.
pub fn period_zh(p: Period) -> String {
    match p {
        Period::Days(n) => format!("{n}日"),
        Period::WorkingDays(n) => format!("{n}个工作日"),
        Period::Hours(n) => format!("{n}小时"),
        Period::Months(n) => format!("{n}个月"),
    }
}

/// A minimum period counted from `anchor`, in Chinese: `自“告知”起须满3日`, or for a period
/// of none (a day fixed by a date), `“截止日期”届满后`.
pub(crate) fn at_least_zh(anchor: &str, p: Period) -> String {
    if !is_zero(p) {
        format!("自{anchor}起须满{}", period_zh(p))
    } else if anchor.ends_with("届满") {
        format!("{anchor}后")
    } else {
        format!("{anchor}届满后")
    }
}

/// A deadline counted from `anchor`, in Chinese: `自“告知”起15日内`, or for a period of none
/// (a day fixed by a date), `“暂缓至”届满前`.
pub(crate) fn within_zh(anchor: &str, p: Period) -> String {
    if !is_zero(p) {
        format!("自{anchor}起{}内", period_zh(p))
    } else if anchor.ends_with("届满") {
        format!("{anchor}前")
    } else {
        format!("{anchor}届满前")
    }
}

fn is_zero(p: Period) -> bool {
    matches!(
        p,
        Period::Days(0) | Period::WorkingDays(0) | Period::Hours(0) | Period::Months(0)
    )
}

/// A date in Chinese: `2027年1月5日`.
pub fn date_zh(d: NaiveDate) -> String {
    d.format("%Y年%-m月%-d日").to_string()
}

/// An instant in China time, in Chinese: `2027年1月5日` at midnight, else
/// `2027年1月5日 09:30`.
pub fn instant_zh(at: DateTime<Utc>) -> String {
    let day = cst_date(at);
    // The minutes past midnight CST, from the UTC time (8 hours ahead).
    let minutes = (at.hour() * 60 + at.minute() + 8 * 60) % (24 * 60);
    if minutes == 0 && at.second() == 0 {
        date_zh(day)
    } else {
        format!("{} {:02}:{:02}", date_zh(day), minutes / 60, minutes % 60)
    }
}

/// An instant in China time, in English: `2027-01-05 09:30 CST`.
pub fn instant_en(at: DateTime<Utc>) -> String {
    fmt_cst(at)
}

/// Items joined as Chinese lists them: `甲、乙或丙` (with `last` = `或`).
pub(crate) fn list_zh(items: &[String], last: &str) -> String {
    join(items, "、", last)
}

/// Items joined as English lists them: `a, b or c` (with `last` = ` or `).
pub(crate) fn list_en(items: &[String], last: &str) -> String {
    join(items, ", ", last)
}

fn join(items: &[String], sep: &str, last: &str) -> String {
    let mut out = String::new();
    let n = items.len();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(if i + 1 == n { last } else { sep });
        }
        out.push_str(item);
    }
    out
}

/// The articles a message cites, as people write them: every parsed citation
/// (`《行政处罚法》第四十四条、《行政处罚法》第四十五条`), else the first, else the basis as
/// the rule file writes it.
pub(crate) fn cited(
    citations: &[Citation],
    citation: Option<&str>,
    basis: Option<&str>,
) -> Option<String> {
    if citations.len() > 1 {
        let all: Vec<String> = citations.iter().map(Citation::readable).collect();
        return Some(all.join("、"));
    }
    citation.or(basis).map(str::to_owned)
}

/// The Chinese citation suffix: `（依据：《行政处罚法》第四十四条）`.
pub(crate) fn cite_zh(cited: Option<&str>) -> String {
    cited.map_or_else(String::new, |c| format!("（依据：{c}）"))
}

/// The English citation suffix: ` (basis: 《行政处罚法》第四十四条)`.
pub(crate) fn cite_en(cited: Option<&str>) -> String {
    cited.map_or_else(String::new, |c| format!(" (basis: {c})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn tags_choose_the_language() {
        assert_eq!(Lang::from_tag("zh-CN"), Some(Lang::Zh));
        assert_eq!(Lang::from_tag("ZH"), Some(Lang::Zh));
        assert_eq!(Lang::from_tag("en-US"), Some(Lang::En));
        assert_eq!(Lang::from_tag("en"), Some(Lang::En));
        assert_eq!(Lang::from_tag("fr"), None);
        assert_eq!(Lang::default(), Lang::Zh);
        assert_eq!("en".parse::<Lang>(), Ok(Lang::En));
        assert!("de".parse::<Lang>().is_err());
    }

    #[test]
    fn dates_are_written_in_china_time() {
        // 16:00 UTC is midnight CST the next day.
        let midnight = Utc.with_ymd_and_hms(2027, 1, 4, 16, 0, 0).unwrap();
        assert_eq!(instant_zh(midnight), "2027年1月5日");
        let morning = Utc.with_ymd_and_hms(2027, 1, 5, 1, 30, 0).unwrap();
        assert_eq!(instant_zh(morning), "2027年1月5日 09:30");
        assert_eq!(instant_en(morning), "2027-01-05 09:30 CST");
        assert_eq!(
            date_zh(NaiveDate::from_ymd_opt(2025, 10, 8).unwrap()),
            "2025年10月8日"
        );
    }

    #[test]
    fn periods_and_lists_read_as_chinese() {
        assert_eq!(period_zh(Period::WorkingDays(5)), "5个工作日");
        assert_eq!(period_zh(Period::Days(15)), "15日");
        assert_eq!(at_least_zh("“告知”", Period::Days(3)), "自“告知”起须满3日");
        assert_eq!(
            at_least_zh("“截止日期”", Period::Days(0)),
            "“截止日期”届满后"
        );
        assert_eq!(
            at_least_zh("“诉讼期限”届满", Period::Days(0)),
            "“诉讼期限”届满后"
        );
        assert_eq!(
            within_zh("“告知”", Period::WorkingDays(5)),
            "自“告知”起5个工作日内"
        );
        assert_eq!(within_zh("“暂缓至”", Period::Days(0)), "“暂缓至”届满前");
        let items = ["甲".to_owned(), "乙".to_owned(), "丙".to_owned()];
        assert_eq!(list_zh(&items, "或"), "甲、乙或丙");
        assert_eq!(list_en(&items, " or "), "甲, 乙 or 丙");
    }
}
