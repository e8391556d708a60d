//! Legal time: calendars of working days, periods and their reckoning in China Standard Time.

use serde::{Deserialize, Serialize};

/// A length of time as the law writes it: calendar days, working days or hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Calendar days (日).
    Days(u32),
    /// Working days (工作日) on the official calendar.
    WorkingDays(u32),
    /// Hours (小时), counted exactly.
    Hours(u32),
}
