//! Errors as `application/problem+json` (RFC 9457), each kind with a stable `type` URI.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use fazhi_core::lang::Lang;
use fazhi_core::runtime::{BrokenLink, Reason, Refusal};
use serde::Serialize;
use utoipa::ToSchema;

/// The seconds a 503 asks the client to wait before retrying (`Retry-After`).
pub const RETRY_AFTER: &str = "1";

/// Where the `type` URIs live.
pub const PROBLEM_BASE: &str = "https://fazhi.dev/problems/";

/// One thing wrong with a request body or query, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Where: a JSON path into the body (`documents[0].sha256`), a query parameter or a header.
    #[serde(rename = "where")]
    pub at: String,
    /// What is wrong.
    pub message: String,
}

/// A problem document (RFC 9457) with fazhi's extensions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A stable URI per kind of problem: `https://fazhi.dev/problems/<kind>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind (for a refusal, in the language of `Accept-Language`:
    /// Chinese unless English is asked for).
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong with this request (for a refusal, in the language of
    /// `Accept-Language`).
    pub detail: String,
    /// For `invalid-request` and `malformed-request`: what is wrong and where.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For `refused` (and a 403 for a role): every unmet condition, with its article.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
    /// For `conflict`: how many events the case has now (the `expected_seq` to send).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_seq: Option<u64>,
    /// For `chain-broken`: the first event that does not fit the case's hash chain (`seq`),
    /// what kind of break (`kind`) and what is wrong (`problem`, `problem_zh`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken: Option<BrokenLink>,
}

/// Every error the API answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No bearer token, or one that no principal has.
    #[error("{0}")]
    Unauthorized(String),
    /// The principal may not do this.
    #[error("{detail}")]
    Forbidden {
        /// Why, in `lang`.
        detail: String,
        /// The core's reasons, when the rule comes from the procedure (their `message` in
        /// `lang`).
        reasons: Vec<Reason>,
        /// The language of the answer.
        lang: Lang,
    },
    /// No such route, case or procedure.
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not with this method: the message, and the methods it answers
    /// (sent as `Allow`).
    #[error("{0}")]
    MethodNotAllowed(String, &'static str),
    /// The body is not JSON, or a query parameter or header cannot be read.
    #[error("{detail}")]
    Malformed {
        /// What.
        detail: String,
        /// Where.
        errors: Vec<FieldError>,
    },
    /// The body is JSON but not of the expected shape (unknown or missing fields, wrong types),
    /// or names an unknown procedure.
    #[error("{detail}")]
    Invalid {
        /// What.
        detail: String,
        /// Where.
        errors: Vec<FieldError>,
    },
    /// The body is larger than the limit.
    #[error("the body is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body is not `application/json`.
    #[error("send the body as `application/json`")]
    UnsupportedMediaType,
    /// The core refused the command; the answer speaks the language given (the reasons'
    /// `message` are set to it here).
    #[error("{0}")]
    Refused(Refusal, Lang),
    /// `expected_seq` is stale.
    #[error(
        "the case has {current_seq} events, not {expected_seq}: read it again and decide again"
    )]
    Conflict {
        /// What the request said.
        expected_seq: u64,
        /// What the case has.
        current_seq: u64,
    },
    /// The idempotency key was used before with another request.
    #[error(
        "the `Idempotency-Key` `{0}` was used before with another request: use a new key for a new request"
    )]
    KeyReused(String),
    /// The case's stored history does not verify: it is not served as a case and takes no
    /// more actions (its dossier and events say where it breaks).
    #[error(
        "the hash chain of case `{case}` breaks at event {}: {}. The case takes no more actions; \
         its dossier (`/v1/cases/{case}/dossier`) shows where; check the database with \
         `fazhi verify` and restore the case from a backup",
        .broken.seq, .broken.problem
    )]
    ChainBroken {
        /// The case's id.
        case: String,
        /// Where the chain breaks.
        broken: BrokenLink,
    },
    /// The service is shutting down.
    #[error("the service is shutting down; retry later")]
    Unavailable,
    /// The store refused the request or failed it before writing (a fault of the disk, a
    /// lock not granted in time, a file removed under it): nothing was written; retry later.
    #[error("{en}")]
    StoreUnavailable {
        /// The fault's label (`io`, `disk_full`, `busy`, …), for logs and metrics.
        kind: &'static str,
        /// Why, in Chinese.
        zh: String,
        /// Why, in English.
        en: String,
    },
    /// A commit failed: the write may or may not have been saved. Retrying under the same
    /// `Idempotency-Key` gets the first answer if it was saved, and writes it otherwise.
    #[error(
        "outcome unknown: this write may have been saved; retry with the same Idempotency-Key (the store met a fault ({kind}) while committing)"
    )]
    OutcomeUnknown {
        /// The fault's label.
        kind: &'static str,
    },
    /// Something on our side: the store failed, or stored data does not read back.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// A 422 for one field.
    pub fn invalid(at: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::Invalid {
            detail: message.clone(),
            errors: vec![FieldError {
                at: at.into(),
                message,
            }],
        }
    }

    /// A 400 for one place.
    pub fn malformed(at: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::Malformed {
            detail: message.clone(),
            errors: vec![FieldError {
                at: at.into(),
                message,
            }],
        }
    }

    /// The problem kind: the last segment of the `type` URI.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::MethodNotAllowed(..) => "method-not-allowed",
            ApiError::Malformed { .. } => "malformed-request",
            ApiError::Invalid { .. } => "invalid-request",
            ApiError::TooLarge { .. } => "payload-too-large",
            ApiError::UnsupportedMediaType => "unsupported-media-type",
            ApiError::Refused(..) => "refused",
            ApiError::Conflict { .. } => "conflict",
            ApiError::KeyReused(_) => "idempotency-key-reused",
            ApiError::ChainBroken { .. } => "chain-broken",
            ApiError::Unavailable | ApiError::StoreUnavailable { .. } => "unavailable",
            ApiError::OutcomeUnknown { .. } => "outcome-unknown",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The language of the answer: a refusal's own (the handler chose it), else `asked`.
    fn lang(&self, asked: Lang) -> Lang {
        match self {
            ApiError::Forbidden { lang, .. } | ApiError::Refused(_, lang) => *lang,
            _ => asked,
        }
    }

    fn title_zh(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "未提供或无法识别的持有者令牌",
            ApiError::Forbidden { .. } => "无权办理",
            ApiError::NotFound(_) => "未找到",
            ApiError::MethodNotAllowed(..) => "不支持该请求方法",
            ApiError::Malformed { .. } => "请求格式错误",
            ApiError::Invalid { .. } => "请求内容无效",
            ApiError::TooLarge { .. } => "请求体过大",
            ApiError::UnsupportedMediaType => "不支持的媒体类型",
            ApiError::Refused(..) => "程序不予办理",
            ApiError::Conflict { .. } => "expected_seq 已过时",
            ApiError::KeyReused(_) => "幂等键已被使用",
            ApiError::ChainBroken { .. } => "案件哈希链断裂",
            ApiError::Unavailable | ApiError::StoreUnavailable { .. } => "服务暂不可用",
            ApiError::OutcomeUnknown { .. } => "结果未知",
            ApiError::Internal(_) => "内部错误",
        }
    }

    /// What went wrong, in Chinese where the text is fixed; a detail that carries another
    /// component's words (a JSON error, a store error) stays as it is.
    fn detail_zh(&self) -> String {
        match self {
            ApiError::Refused(r, _) => format!(
                "不予办理：{}",
                r.reasons
                    .iter()
                    .map(|x| x.message_zh.as_str())
                    .collect::<Vec<_>>()
                    .join("；")
            ),
            ApiError::TooLarge { limit } => format!("请求体超过{limit}字节"),
            ApiError::UnsupportedMediaType => "请以`application/json`发送请求体".to_owned(),
            ApiError::Conflict {
                expected_seq,
                current_seq,
            } => {
                format!("本案现有{current_seq}个事件，而非{expected_seq}个：请重新读取案件后再办理")
            }
            ApiError::KeyReused(key) => {
                format!("`Idempotency-Key` `{key}`已用于另一请求：新的请求请使用新的键")
            }
            ApiError::Unavailable => "服务正在停止，请稍后重试".to_owned(),
            ApiError::ChainBroken { case, broken } => format!(
                "案件`{case}`的哈希链在第{}号事件处断裂：{}。该案不再受理任何办理；断裂处见其档案\
                 （`/v1/cases/{case}/dossier`）；请用`fazhi verify`核查数据库，并从备份恢复该案",
                broken.seq, broken.problem_zh
            ),
            ApiError::StoreUnavailable { zh, .. } => zh.clone(),
            ApiError::OutcomeUnknown { .. } => {
                "结果未知：本次写入可能已保存，请使用同一 Idempotency-Key 重试".to_owned()
            }
            _ => self.to_string(),
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "missing or unknown bearer token",
            ApiError::Forbidden { .. } => "not allowed for this principal",
            ApiError::NotFound(_) => "not found",
            ApiError::MethodNotAllowed(..) => "method not allowed",
            ApiError::Malformed { .. } => "malformed request",
            ApiError::Invalid { .. } => "invalid request",
            ApiError::TooLarge { .. } => "body too large",
            ApiError::UnsupportedMediaType => "unsupported media type",
            ApiError::Refused(..) => "refused by the procedure",
            ApiError::Conflict { .. } => "stale expected_seq",
            ApiError::KeyReused(_) => "idempotency key reused",
            ApiError::ChainBroken { .. } => "the case's hash chain is broken",
            ApiError::Unavailable | ApiError::StoreUnavailable { .. } => "service unavailable",
            ApiError::OutcomeUnknown { .. } => "outcome unknown",
            ApiError::Internal(_) => "internal error",
        }
    }

    /// The problem document, in English (a refusal in the language the handler chose).
    pub fn problem(&self) -> Problem {
        self.problem_in(Lang::En)
    }

    /// The problem document with `title` and `detail` in `lang` (a refusal in the language
    /// the handler chose).
    pub fn problem_in(&self, lang: Lang) -> Problem {
        let lang = self.lang(lang);
        let (errors, reasons, current_seq) = match self {
            ApiError::Malformed { errors, .. } | ApiError::Invalid { errors, .. } => {
                (errors.clone(), Vec::new(), None)
            }
            ApiError::Refused(r, lang) => (Vec::new(), r.clone().in_lang(*lang).reasons, None),
            ApiError::Forbidden { reasons, .. } => (Vec::new(), reasons.clone(), None),
            ApiError::Conflict { current_seq, .. } => (Vec::new(), Vec::new(), Some(*current_seq)),
            _ => (Vec::new(), Vec::new(), None),
        };
        let detail = match self {
            _ if lang == Lang::Zh => self.detail_zh(),
            ApiError::Refused(r, _) => format!(
                "action `{}` refused: {}",
                r.action,
                r.reasons
                    .iter()
                    .map(|x| x.message_en.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            _ => self.to_string(),
        };
        Problem {
            kind: format!("{PROBLEM_BASE}{}", self.kind()),
            title: match lang {
                Lang::Zh => self.title_zh(),
                Lang::En => self.title(),
            }
            .to_owned(),
            status: self.status_code().as_u16(),
            detail,
            errors,
            reasons,
            current_seq,
            broken: match self {
                ApiError::ChainBroken { broken, .. } => Some(broken.clone()),
                _ => None,
            },
        }
    }
}

impl From<fazhi_store::StoreError> for ApiError {
    /// A closed store is 503 `unavailable` (shutting down); a commit that failed is 503
    /// `outcome-unknown`; every other fault of the store (refused, failed before writing, a
    /// read that failed, the file gone) is 503 `unavailable`; what remains (stored data
    /// that does not read back, a malformed append) is 500 `internal`.
    fn from(e: fazhi_store::StoreError) -> Self {
        use fazhi_store::StoreError as S;
        let Some(kind) = e.fault() else {
            return match e {
                S::Closed => ApiError::Unavailable,
                other => ApiError::Internal(other.to_string()),
            };
        };
        let label = kind.label();
        match e {
            S::OutcomeUnknown { .. } => ApiError::OutcomeUnknown { kind: label },
            S::Fenced { zh, en, .. } => ApiError::StoreUnavailable {
                kind: label,
                zh: format!("{zh}：本次请求未写入，请稍后重试"),
                en: format!("{en}; nothing was written, retry later"),
            },
            S::NotWritten { message, .. } => ApiError::StoreUnavailable {
                kind: label,
                zh: format!("存储故障（{}）：本次写入未保存，请稍后重试", kind.zh()),
                en: format!(
                    "a store fault ({label}): nothing was written, retry later ({message})"
                ),
            },
            other => ApiError::StoreUnavailable {
                kind: label,
                zh: format!("存储故障（{}）：暂时无法读写，请稍后重试", kind.zh()),
                en: format!("a store fault ({label}): retry later ({other})"),
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(..) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Malformed { .. } => StatusCode::BAD_REQUEST,
            ApiError::Invalid { .. } | ApiError::Refused(..) | ApiError::KeyReused(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Conflict { .. } | ApiError::ChainBroken { .. } => StatusCode::CONFLICT,
            ApiError::Unavailable
            | ApiError::StoreUnavailable { .. }
            | ApiError::OutcomeUnknown { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(detail) = self {
            tracing::error!(%detail, "internal error");
        }
        if let ApiError::ChainBroken { case, broken } = self {
            tracing::error!(%case, seq = broken.seq, problem = %broken.problem, "hash chain broken");
        }
        if let ApiError::StoreUnavailable { kind, .. } | ApiError::OutcomeUnknown { kind } = self {
            tracing::warn!(kind, problem = self.kind(), detail = %self, "answered 503: a store fault");
            metrics::counter!("fazhi_http_store_faults_total", "kind" => *kind, "problem" => self.kind())
                .increment(1);
        }
        if let ApiError::Refused(r, _) = self {
            for reason in &r.reasons {
                let kind = serde_json::to_value(reason.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                metrics::counter!("fazhi_refusals_total", "kind" => kind).increment(1);
            }
        }
        self.problem_response(Lang::En)
    }
}

impl ApiError {
    /// The answer in `lang` (a refusal in the language the handler chose). The service
    /// renders every error in English first, then again in the language of the request's
    /// `Accept-Language` when that is Chinese (see `startup`).
    pub fn problem_response(&self, lang: Lang) -> HttpResponse {
        let body = serde_json::to_vec(&self.problem_in(lang)).unwrap_or_default();
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        if self.status_code() == StatusCode::SERVICE_UNAVAILABLE {
            res.insert_header((header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER)));
        }
        if matches!(self, ApiError::Unauthorized(_)) {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if let ApiError::MethodNotAllowed(_, allow) = self
            && !allow.is_empty()
        {
            res.insert_header((header::ALLOW, HeaderValue::from_static(allow)));
        }
        res.body(body)
    }
}

/// The language an `Accept-Language` header asks for: the first of Chinese and English in
/// the order of preference (`q`), Chinese when it names neither or is absent.
pub fn lang_of(accept_language: Option<&str>) -> Lang {
    let Some(header) = accept_language else {
        return Lang::default();
    };
    let mut choices: Vec<(f32, Lang)> = header
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let lang = Lang::from_tag(parts.next()?)?;
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (q > 0.0).then_some((q, lang))
        })
        .collect();
    // Stable: of equal `q`, the first written wins.
    choices.sort_by(|a, b| b.0.total_cmp(&a.0));
    choices.first().map_or_else(Lang::default, |(_, l)| *l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_chinese_unless_english_comes_first() {
        assert_eq!(lang_of(None), Lang::Zh);
        assert_eq!(lang_of(Some("en")), Lang::En);
        assert_eq!(lang_of(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(lang_of(Some("zh-CN,zh;q=0.9,en;q=0.8")), Lang::Zh);
        assert_eq!(lang_of(Some("fr, en;q=0.5")), Lang::En);
        assert_eq!(lang_of(Some("zh;q=0.5, en;q=0.8")), Lang::En);
        assert_eq!(lang_of(Some("en;q=0")), Lang::Zh);
        assert_eq!(lang_of(Some("de")), Lang::Zh);
        assert_eq!(lang_of(Some("*")), Lang::Zh);
    }
}
