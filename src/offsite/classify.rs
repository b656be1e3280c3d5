//! Storage and repository failures turned into [`Error`]s that name the cause: the
//! storage's errors arrive wrapped in rustic_core's, so the chain of `source()`s is
//! walked down to the OpenDAL error (or the cancel marker) and its kind is read.

use rustic_core::RusticError;

use crate::error::Error;

use super::backend::Cancelled;
use super::url::RepoUrl;

/// When the failure happened: a dead endpoint is "unreachable" while connecting, and an
/// "interrupted upload" once data was moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The connection check, before anything is read or written.
    Connect,
    /// Reading or writing the repository.
    Transfer,
}

/// What was being done, for the cancel message ("push", "restore").
pub type What = &'static str;

/// An OpenDAL error as a Lifeboat error.
pub fn from_opendal(url: &RepoUrl, e: &opendal::Error, stage: Stage) -> Error {
    let repository = url.text.clone();
    let message = e.message().to_string();
    if message.contains("NoSuchBucket") {
        return Error::OffsiteNoBucket { repository, bucket: url.bucket.clone(), endpoint: url.endpoint.clone() };
    }
    match e.kind() {
        opendal::ErrorKind::PermissionDenied => {
            Error::OffsiteAccessDenied { repository, detail: s3_code(&message).unwrap_or("AccessDenied").to_string() }
        }
        opendal::ErrorKind::Unexpected if e.is_temporary() || has_transport_source(e) || stage == Stage::Connect => {
            let cause = innermost(e);
            if stage == Stage::Connect {
                Error::OffsiteUnreachable { repository, endpoint: url.endpoint.clone(), cause }
            } else {
                Error::OffsiteInterrupted { repository, cause }
            }
        }
        _ => Error::Offsite { repository, message: one_line(&e.to_string()) },
    }
}

/// A rustic_core error as a Lifeboat error: a wrong password, a cancel, or the storage
/// error inside it; else rustic's own words on one line.
pub fn from_rustic(url: &RepoUrl, e: &RusticError, stage: Stage, what: What) -> Error {
    if e.is_incorrect_password() {
        return Error::OffsiteWrongPassword { repository: url.text.clone() };
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<Cancelled>().is_some() {
            return Error::OffsiteCancelled { what, repository: url.text.clone() };
        }
        if let Some(o) = c.downcast_ref::<opendal::Error>() {
            return from_opendal(url, o, stage);
        }
        cause = c.source();
    }
    Error::Offsite { repository: url.text.clone(), message: rustic_message(e) }
}

/// rustic_core's message of `e` (its guidance with the context filled in), on one line,
/// without its request to report a bug.
pub fn rustic_message(e: &RusticError) -> String {
    let text = e.to_string();
    let mut lines = text.lines();
    let message = loop {
        match lines.next() {
            Some("Message:") => break lines.next().unwrap_or("").to_string(),
            Some(_) => {}
            None => break text.lines().next().unwrap_or("").to_string(),
        }
    };
    let mut out = one_line(&message);
    if let Some(source) = std::error::Error::source(e) {
        out.push_str(": ");
        out.push_str(&one_line(&source.to_string()));
    }
    out
}

/// `text` on one line: whitespace runs folded, no "report a bug" sentences.
pub fn one_line(text: &str) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    folded.split(". ").filter(|s| !s.to_lowercase().contains("report")).collect::<Vec<_>>().join(". ")
}

/// The `code` of an S3 error body as OpenDAL prints it (`S3Error { code: "InvalidAccessKeyId", ...`).
fn s3_code(message: &str) -> Option<&str> {
    let start = message.find("code: \"")? + "code: \"".len();
    let len = message[start..].find('"')?;
    Some(&message[start..start + len]).filter(|c| !c.is_empty())
}

/// Whether the failure came from the connection (an error of the HTTP transport).
fn has_transport_source(e: &opendal::Error) -> bool {
    std::error::Error::source(e).is_some()
}

/// The deepest cause's message ("Connection refused (os error 111)"), else the error's own.
fn innermost(e: &opendal::Error) -> String {
    let mut last: Option<String> = None;
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        last = Some(c.to_string());
        cause = c.source();
    }
    one_line(&last.unwrap_or_else(|| e.message().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> RepoUrl {
        RepoUrl::parse("s3:http://127.0.0.1:9/bucket/p").unwrap()
    }

    #[test]
    fn a_wrapped_refusal_is_found_under_rusticss_error() {
        let inner = opendal::Error::new(
            opendal::ErrorKind::PermissionDenied,
            "S3Error { code: \"InvalidAccessKeyId\", message: \"no\" }",
        );
        let wrapped = RusticError::with_source(rustic_core::ErrorKind::Backend, "Path `config` does not exist.", inner)
            .ask_report();
        let e = from_rustic(&url(), &wrapped, Stage::Transfer, "push");
        assert!(matches!(&e, Error::OffsiteAccessDenied { detail, .. } if detail == "InvalidAccessKeyId"), "{e:?}");
        assert!(!e.to_string().contains("report"), "{e}");
    }

    #[test]
    fn a_missing_bucket_and_a_cancel_are_told_apart() {
        let nb = opendal::Error::new(opendal::ErrorKind::ConfigInvalid, "S3Error { code: \"NoSuchBucket\" }");
        assert!(matches!(from_opendal(&url(), &nb, Stage::Connect), Error::OffsiteNoBucket { .. }));
        let c = RusticError::with_source(rustic_core::ErrorKind::Backend, "cancelled", Cancelled);
        assert!(matches!(from_rustic(&url(), &c, Stage::Transfer, "push"), Error::OffsiteCancelled { .. }));
    }

    #[test]
    fn rustics_text_is_one_line_without_a_bug_report() {
        let e = RusticError::new(rustic_core::ErrorKind::Repository, "check found errors!").ask_report();
        let m = rustic_message(&e);
        assert_eq!(m, "check found errors!");
    }
}
