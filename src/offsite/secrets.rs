//! The offsite secrets: the S3 keys and the repository password. Never in the config:
//! from the environment or a password file first, else from the OS keychain, where
//! `offsite init` keeps them.

use std::path::Path;
use std::sync::{Arc, Once};

use crate::env::{self, Keychain};
use crate::error::{Error, Result};

use super::backend::Keys;

/// The keychain service every offsite secret is filed under.
const SERVICE: &str = "lifeboat-offsite";

/// What opens an offsite repository.
#[derive(Clone)]
pub struct Secrets {
    /// The S3 keys.
    pub keys: Keys,
    /// The repository password (the master key is wrapped by it).
    pub password: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({:?}, password ***)", self.keys)
    }
}

/// Where each secret was found, for messages ("stored in the keychain").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// An environment variable or a password file.
    Given,
    /// The keychain.
    Keychain,
}

/// Reads the secrets for `repository`: the S3 keys from `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY`, the password from `password_file`, else
/// `LIFEBOAT_OFFSITE_PASSWORD`; whatever is missing from the keychain.
///
/// # Errors
/// [`Error::OffsiteSecretMissing`] naming each way to give the missing secret;
/// [`Error::Env`] for a half-set pair of keys; an unreadable password file.
pub fn resolve(repository: &str, password_file: Option<&Path>) -> Result<(Secrets, Found)> {
    let mut found = Found::Given;
    let password = match password_file {
        Some(path) => read_password_file(path)?,
        None => match env::offsite_password()? {
            Some(p) => p,
            None => {
                found = Found::Keychain;
                keychain_get(repository, "password")?.ok_or_else(|| Error::OffsiteSecretMissing {
                    message: format!(
                        "no password for the offsite repository {repository}: set LIFEBOAT_OFFSITE_PASSWORD, \
                         pass --password-file FILE, or run `lifeboat offsite init` to keep it in the keychain"
                    ),
                })?
            }
        },
    };
    let keys = match env::aws_keys()? {
        Some((access_key_id, secret_access_key)) => Keys { access_key_id, secret_access_key },
        None => {
            found = Found::Keychain;
            match (keychain_get(repository, "access-key-id")?, keychain_get(repository, "secret-access-key")?) {
                (Some(access_key_id), Some(secret_access_key)) => Keys { access_key_id, secret_access_key },
                _ => {
                    return Err(Error::OffsiteSecretMissing {
                        message: format!(
                            "no S3 keys for the offsite repository {repository}: set AWS_ACCESS_KEY_ID and \
                             AWS_SECRET_ACCESS_KEY, or run `lifeboat offsite init` to keep them in the keychain"
                        ),
                    })
                }
            }
        }
    };
    Ok((Secrets { keys, password }, found))
}

/// The first line of a password file, as restic reads `--password-file`.
///
/// # Errors
/// The file cannot be read, or its first line is empty.
pub fn read_password_file(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read password file", path, e))?;
    let first = text.lines().next().unwrap_or("").to_string();
    if first.is_empty() {
        return Err(Error::OffsiteSecretMissing {
            message: format!("password file {} is empty: put the password on its first line", path.display()),
        });
    }
    Ok(first)
}

/// Keeps the secrets of `repository` in the keychain. `Ok(false)` when there is no
/// keychain to keep them in (`LIFEBOAT_OFFSITE_KEYCHAIN=none`, none running, or it refused;
/// the reason is logged).
///
/// # Errors
/// A bad `LIFEBOAT_OFFSITE_KEYCHAIN`.
pub fn store(repository: &str, secrets: &Secrets) -> Result<bool> {
    if !keychain_ready()? {
        return Ok(false);
    }
    for (what, value) in [
        ("password", secrets.password.as_str()),
        ("access-key-id", secrets.keys.access_key_id.as_str()),
        ("secret-access-key", secrets.keys.secret_access_key.as_str()),
    ] {
        if let Err(e) = entry(repository, what)?.set_password(value) {
            tracing::warn!("cannot keep the offsite {what} in the keychain: {e}");
            return Ok(false);
        }
    }
    Ok(true)
}

fn entry(repository: &str, what: &str) -> Result<keyring_core::Entry> {
    keyring_core::Entry::new(SERVICE, &format!("{repository} {what}")).map_err(|e| Error::OffsiteSecretMissing {
        message: format!("cannot use the keychain for the offsite {what}: {e}"),
    })
}

fn keychain_get(repository: &str, what: &str) -> Result<Option<String>> {
    if !keychain_ready()? {
        return Ok(None);
    }
    match entry(repository, what)?.get_password() {
        Ok(v) => Ok(Some(v)),
        Err(keyring_core::Error::NoEntry) => Ok(None),
        Err(e) => {
            tracing::warn!("keychain: cannot read the offsite {what}: {e}");
            Ok(None)
        }
    }
}

/// Sets up the keychain chosen by `LIFEBOAT_OFFSITE_KEYCHAIN` once; `false` when there
/// is none to use.
fn keychain_ready() -> Result<bool> {
    match env::offsite_keychain()? {
        Keychain::None => Ok(false),
        Keychain::Mock => {
            static MOCK: Once = Once::new();
            MOCK.call_once(|| {
                if let Ok(store) = keyring_core::mock::Store::new() {
                    let store: Arc<keyring_core::CredentialStore> = store;
                    keyring_core::set_default_store(store);
                }
            });
            Ok(keyring_core::get_default_store().is_some())
        }
        Keychain::System => match keyring::Entry::store_status() {
            Ok(()) => Ok(true),
            Err(e) => {
                static WARNED: Once = Once::new();
                WARNED.call_once(|| tracing::info!("no OS keychain to keep offsite secrets in: {e}"));
                Ok(false)
            }
        },
    }
}
