//! The repository URL in restic's S3 form, split into endpoint, bucket and prefix.

use crate::error::{Error, Result};

/// `s3:https://HOST[:PORT]/BUCKET/PREFIX` (or `s3:HOST/BUCKET/PREFIX`, https assumed), as
/// restic writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoUrl {
    /// The URL as given (trailing slashes removed): how errors and the keychain name it.
    pub text: String,
    /// `https://host[:port]` or `http://host[:port]`.
    pub endpoint: String,
    /// The bucket.
    pub bucket: String,
    /// The prefix inside the bucket (`lifeboat/drumgen`), without slashes at either end;
    /// empty for the bucket's root.
    pub prefix: String,
    /// The region to sign for: read from an AWS host name (`s3.eu-central-1.amazonaws.com`),
    /// else `us-east-1` (what S3-compatible servers accept).
    pub region: String,
}

impl RepoUrl {
    /// Parses `text`.
    ///
    /// # Errors
    /// [`Error::Setting`] (`offsite.repository`) saying what is wrong with its shape.
    pub fn parse(text: &str) -> Result<RepoUrl> {
        let text = text.trim().trim_end_matches('/').to_string();
        let bad = |why: &str| {
            Error::setting(
                "offsite.repository",
                format!(
                    "offsite repository \"{text}\" {why}: write it as restic does, \
                     e.g. s3:https://s3.eu-central-1.amazonaws.com/BUCKET/PREFIX"
                ),
            )
        };
        let rest = text.strip_prefix("s3:").ok_or_else(|| bad("does not start with s3:"))?;
        let (scheme, rest) = if let Some(r) = rest.strip_prefix("https://") {
            ("https", r)
        } else if let Some(r) = rest.strip_prefix("http://") {
            ("http", r)
        } else if rest.contains("://") {
            return Err(bad("uses a scheme other than http or https"));
        } else {
            ("https", rest)
        };
        let mut parts = rest.splitn(3, '/');
        let host = parts.next().unwrap_or("");
        let bucket = parts.next().unwrap_or("");
        let prefix = parts.next().unwrap_or("").trim_matches('/');
        if host.is_empty() {
            return Err(bad("names no host"));
        }
        if bucket.is_empty() {
            return Err(bad("names no bucket"));
        }
        if prefix.split('/').any(|p| p == ".." || p == ".") {
            return Err(bad("has `.` or `..` in its prefix"));
        }
        Ok(RepoUrl {
            endpoint: format!("{scheme}://{host}"),
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            region: region_of(host),
            text,
        })
    }
}

/// `s3.eu-central-1.amazonaws.com` and `s3-eu-west-1.amazonaws.com` sign for their region.
fn region_of(host: &str) -> String {
    let name = host.split(':').next().unwrap_or(host);
    if let Some(inner) = name.strip_suffix(".amazonaws.com") {
        let region = inner.strip_prefix("s3.").or_else(|| inner.strip_prefix("s3-")).unwrap_or("");
        let region = region.strip_prefix("dualstack.").unwrap_or(region);
        if !region.is_empty() && !region.contains('.') {
            return region.to_string();
        }
    }
    "us-east-1".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restic_forms_are_read() {
        let u = RepoUrl::parse("s3:https://s3.eu-central-1.amazonaws.com/my-bucket/lifeboat/drumgen/").unwrap();
        assert_eq!(u.endpoint, "https://s3.eu-central-1.amazonaws.com");
        assert_eq!(
            (u.bucket.as_str(), u.prefix.as_str(), u.region.as_str()),
            ("my-bucket", "lifeboat/drumgen", "eu-central-1")
        );
        assert_eq!(u.text, "s3:https://s3.eu-central-1.amazonaws.com/my-bucket/lifeboat/drumgen");
        let u = RepoUrl::parse("s3:http://127.0.0.1:8333/b/p").unwrap();
        assert_eq!((u.endpoint.as_str(), u.bucket.as_str(), u.prefix.as_str()), ("http://127.0.0.1:8333", "b", "p"));
        assert_eq!(u.region, "us-east-1");
        let u = RepoUrl::parse("s3:s3.amazonaws.com/b").unwrap();
        assert_eq!((u.endpoint.as_str(), u.prefix.as_str()), ("https://s3.amazonaws.com", ""));
    }

    #[test]
    fn bad_forms_are_refused_with_the_field() {
        for bad in ["/srv/restic", "s3:", "s3:https://host", "s3:ftp://host/b", "s3:https://h/b/../x"] {
            match RepoUrl::parse(bad) {
                Err(Error::Setting { field, .. }) => assert_eq!(field, "offsite.repository"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
