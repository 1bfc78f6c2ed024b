//! Checkpoints named by a local directory or a Hugging Face hub id (`gpt2`, `t5-base`,
//! `lvwerra/gpt2-imdb`, `lvwerra/distilbert-imdb`, optionally `id@revision`), resolved the way
//! `transformers`' `from_pretrained` does, to a directory holding `config.json`, the weights and
//! the tokenizer files.
//!
//! * A spec naming an existing directory is that directory (as `from_pretrained` checks
//!   `os.path.isdir` first).
//! * Otherwise it is a hub id, looked up in the hub cache in Hugging Face's layout
//!   (`<cache>/models--org--name/{refs/<revision>, snapshots/<commit>/<file>, blobs/<etag>}`),
//!   so a cache filled by Python's `huggingface_hub` is used as it is, and vice versa. The cache
//!   is `HF_HUB_CACHE`, else `HUGGINGFACE_HUB_CACHE`, else `TRANSFORMERS_CACHE`, else
//!   `$HF_HOME/hub`, with `HF_HOME` defaulting to `$XDG_CACHE_HOME/huggingface` or
//!   `~/.cache/huggingface`.
//! * What is missing is downloaded from `HF_ENDPOINT` (default `https://huggingface.co`) with the
//!   [`hf_hub`] crate's sync API: progress bars (unless `HF_HUB_DISABLE_PROGRESS_BARS`), a
//!   `.part` file beside the blob that a later run resumes with an HTTP range request, and a
//!   rename to the blob's name once complete. `HF_TOKEN` (or the `token` file under `HF_HOME`) is
//!   sent for private and gated repositories.
//! * With `HF_HUB_OFFLINE=1` (or `TRANSFORMERS_OFFLINE=1`) nothing is downloaded: a cached
//!   snapshot is used, or the error says how to get one.
//!
//! Files fetched: `config.json` (required), `model.safetensors` else `pytorch_model.bin` (one is
//! required), and whichever tokenizer and generation files exist (`tokenizer.json`,
//! `tokenizer_config.json`, `special_tokens_map.json`, `vocab.json`, `merges.txt`, `vocab.txt`,
//! `spiece.model`, `generation_config.json`). A file the hub does not have is recorded as
//! `.no_exist/<commit>/<file>`, as `huggingface_hub` records it, so that an id whose files are
//! all cached resolves without any network access.
//!
//! What [`hf_hub`] 0.4 does not do and this module adds: `HF_HUB_CACHE` and the other cache
//! variables (hf-hub reads only `HF_HOME`), offline mode, `.no_exist` markers, a commit hash as
//! revision when reading the cache, SHA-256 verification of LFS downloads against their ETag
//! (a mismatching blob is deleted), and errors that name the id and the fix. Known gap: hf-hub's
//! HTTP client (ureq 2) honours `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` but not `NO_PROXY`.

use std::io::Read;
use std::path::{Path, PathBuf};

use hf_hub::api::sync::{ApiBuilder, ApiError, ApiRepo};
use hf_hub::{Cache, Repo, RepoType};
use sha2::{Digest, Sha256};

/// The tokenizer and generation files fetched when the hub has them.
pub const OPTIONAL_FILES: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
    "spiece.model",
    "generation_config.json",
];

/// Weight files in the order `from_pretrained` prefers them.
pub const WEIGHT_FILES: &[&str] = &["model.safetensors", "pytorch_model.bin"];

const SHARD_INDEXES: &[&str] = &[
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
];

/// What resolving a checkpoint can fail with. Every message names the checkpoint and the fix.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(
        "checkpoint `{spec}` is neither an existing directory nor a Hugging Face hub id \
         (`name`, `org/name`, optionally `@revision`); pass a directory holding config.json and \
         model.safetensors, or a hub id such as `gpt2` or `lvwerra/gpt2-imdb`"
    )]
    BadSpec { spec: String },
    #[error(
        "hub id `{id}` (revision `{revision}`): {file} is not on the hub ({url} answered 404); \
         check the id and the revision (a local directory of that name does not exist either)"
    )]
    NotFound {
        id: String,
        revision: String,
        file: String,
        url: String,
    },
    #[error(
        "hub id `{id}`: {url} answered {status}: the repository does not exist, or it is private \
         or gated (set HF_TOKEN to a token that may read it); a local directory of that name \
         does not exist either"
    )]
    Denied {
        id: String,
        url: String,
        status: u16,
    },
    #[error(
        "hub id `{id}` (revision `{revision}`) is not in the hub cache {cache} and \
         HF_HUB_OFFLINE is set: run once with network access and without HF_HUB_OFFLINE to \
         download it, point HF_HUB_CACHE/HF_HOME at a cache that holds it, or pass a local \
         checkpoint directory"
    )]
    OfflineNotCached {
        id: String,
        revision: String,
        cache: PathBuf,
    },
    #[error(
        "hub id `{id}`: downloading {file} from {url} failed: {message}; run the same command \
         again to resume the transfer (set HF_HUB_OFFLINE=1 to use only the cache {cache})"
    )]
    Download {
        id: String,
        file: String,
        url: String,
        cache: PathBuf,
        message: String,
    },
    #[error(
        "hub id `{id}`: the downloaded {file} does not match its SHA-256 ({expected}); the \
         corrupt copy was deleted, run again to download it anew"
    )]
    Corrupt {
        id: String,
        file: String,
        expected: String,
    },
    #[error(
        "hub id `{id}` holds a sharded checkpoint ({index}), which this crate does not read; \
         merge the shards into one file, e.g. `python -c \"from transformers import \
         AutoModel as M; M.from_pretrained('{id}').save_pretrained('DIR', \
         max_shard_size='100GB')\"`, and pass DIR"
    )]
    Sharded { id: String, index: String },
    #[error(
        "hub id `{id}` (revision `{revision}`) has neither model.safetensors nor \
         pytorch_model.bin; only PyTorch checkpoints in Hugging Face layout can be loaded"
    )]
    NoWeights { id: String, revision: String },
    #[error("hub cache {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where a checkpoint spec points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointSource {
    /// An existing directory (or a path that is no valid hub id).
    Local(PathBuf),
    /// A hub repository at a revision (`main` unless `@revision` was given).
    Hub { id: String, revision: String },
}

impl CheckpointSource {
    /// An existing directory is local; otherwise a valid hub id (`name`, `org/name`, with an
    /// optional `@revision`) is a hub id; anything else is a local path (which will not be found).
    pub fn parse(spec: &str) -> CheckpointSource {
        let path = Path::new(spec);
        if path.exists() {
            return CheckpointSource::Local(path.to_path_buf());
        }
        let (id, revision) = match spec.split_once('@') {
            Some((id, rev)) if !rev.is_empty() => (id, rev),
            Some(_) => return CheckpointSource::Local(path.to_path_buf()),
            None => (spec, "main"),
        };
        if is_hub_id(id) {
            CheckpointSource::Hub {
                id: id.to_string(),
                revision: revision.to_string(),
            }
        } else {
            CheckpointSource::Local(path.to_path_buf())
        }
    }
}

/// `huggingface_hub.utils.validate_repo_id`: one or two parts of `[A-Za-z0-9_.-]`, not starting or
/// ending with `-` or `.`, no `--` or `..`, at most 96 characters.
pub fn is_hub_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('/').collect();
    id.len() <= 96
        && !id.contains("--")
        && !id.contains("..")
        && (1..=2).contains(&parts.len())
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                && !p.starts_with(['-', '.'])
                && !p.ends_with(['-', '.'])
        })
}

/// How hub ids are resolved: the cache, the endpoint, offline mode, the token, progress bars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// The hub cache (`HF_HUB_CACHE`): holds `models--org--name/` directories.
    pub cache_dir: PathBuf,
    /// `HF_ENDPOINT`, without a trailing `/`.
    pub endpoint: String,
    /// `HF_HUB_OFFLINE` / `TRANSFORMERS_OFFLINE`: never touch the network.
    pub offline: bool,
    pub token: Option<String>,
    /// Progress bars on standard error while downloading.
    pub progress: bool,
    /// Further attempts at a transfer that breaks off, each resuming where the last stopped.
    pub retries: usize,
}

impl HubConfig {
    /// From the process environment, with Hugging Face's variables and defaults.
    pub fn from_env() -> HubConfig {
        HubConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// From any variable lookup (tests pass a map instead of touching the process environment).
    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> HubConfig {
        let var = |name: &str| env(name).filter(|v| !v.is_empty());
        let truthy = |name: &str| {
            var(name).is_some_and(|v| {
                matches!(v.to_ascii_uppercase().as_str(), "1" | "ON" | "YES" | "TRUE")
            })
        };
        let hf_home = var("HF_HOME").map(PathBuf::from).unwrap_or_else(|| {
            var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .unwrap_or_else(|| PathBuf::from(".cache"))
                .join("huggingface")
        });
        let cache_dir = [
            "HF_HUB_CACHE",
            "HUGGINGFACE_HUB_CACHE",
            "TRANSFORMERS_CACHE",
        ]
        .iter()
        .find_map(|name| var(name))
        .map(PathBuf::from)
        .unwrap_or_else(|| hf_home.join("hub"));
        let token = var("HF_TOKEN")
            .or_else(|| var("HUGGING_FACE_HUB_TOKEN"))
            .or_else(|| {
                let path = var("HF_TOKEN_PATH")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| hf_home.join("token"));
                std::fs::read_to_string(path)
                    .ok()
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
            });
        HubConfig {
            cache_dir,
            endpoint: var("HF_ENDPOINT")
                .unwrap_or_else(|| "https://huggingface.co".into())
                .trim_end_matches('/')
                .to_string(),
            offline: truthy("HF_HUB_OFFLINE") || truthy("TRANSFORMERS_OFFLINE"),
            token,
            progress: !truthy("HF_HUB_DISABLE_PROGRESS_BARS"),
            retries: 2,
        }
    }

    /// The directory of a checkpoint spec: an existing directory as it is, a hub id from the
    /// cache, downloading what is missing (unless offline).
    pub fn resolve(&self, spec: &str) -> Result<PathBuf, HubError> {
        match CheckpointSource::parse(spec) {
            CheckpointSource::Local(path) if path.is_dir() => Ok(path),
            CheckpointSource::Local(_) => Err(HubError::BadSpec {
                spec: spec.to_string(),
            }),
            CheckpointSource::Hub { id, revision } => self.resolve_hub(&id, &revision),
        }
    }

    /// `models--org--name` under the cache.
    pub fn repo_dir(&self, id: &str) -> PathBuf {
        self.cache_dir
            .join(format!("models--{}", id.replace('/', "--")))
    }

    /// The cached snapshot of `id` at `revision`: `refs/<revision>` names a commit, or
    /// `revision` is itself a commit hash with a snapshot.
    pub fn cached_snapshot(&self, id: &str, revision: &str) -> Option<PathBuf> {
        let repo = self.repo_dir(id);
        let commit = std::fs::read_to_string(repo.join("refs").join(revision))
            .ok()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .or_else(|| is_commit_hash(revision).then(|| revision.to_string()))?;
        let dir = repo.join("snapshots").join(commit);
        dir.is_dir().then_some(dir)
    }

    fn resolve_hub(&self, id: &str, revision: &str) -> Result<PathBuf, HubError> {
        let cached = self.cached_snapshot(id, revision);
        if let Some(dir) = &cached
            && has_model(dir)
            && (self.offline || self.optional_files_settled(id, dir))
        {
            return Ok(dir.clone());
        }
        if self.offline {
            return Err(HubError::OfflineNotCached {
                id: id.into(),
                revision: revision.into(),
                cache: self.cache_dir.clone(),
            });
        }
        let fetch = Fetch::new(self, id, revision)?;
        let config = fetch
            .get("config.json")?
            .ok_or_else(|| HubError::NotFound {
                id: id.into(),
                revision: revision.into(),
                file: "config.json".into(),
                url: fetch.repo.url("config.json"),
            })?;
        let dir = config
            .parent()
            .expect("a snapshot file has a directory")
            .to_path_buf();
        let mut weights = None;
        for file in WEIGHT_FILES {
            if let Some(path) = fetch.get_or_mark(&dir, file)? {
                weights = Some(path);
                break;
            }
        }
        if weights.is_none() {
            for index in SHARD_INDEXES {
                if fetch.get_or_mark(&dir, index)?.is_some() {
                    return Err(HubError::Sharded {
                        id: id.into(),
                        index: (*index).into(),
                    });
                }
            }
            return Err(HubError::NoWeights {
                id: id.into(),
                revision: revision.into(),
            });
        }
        for file in OPTIONAL_FILES {
            fetch.get_or_mark(&dir, file)?;
        }
        Ok(dir)
    }

    /// Every optional file of the snapshot is present or known to be absent on the hub.
    fn optional_files_settled(&self, id: &str, snapshot: &Path) -> bool {
        let commit = snapshot.file_name().unwrap_or_default();
        let no_exist = self.repo_dir(id).join(".no_exist").join(commit);
        OPTIONAL_FILES
            .iter()
            .all(|f| snapshot.join(f).is_file() || no_exist.join(f).exists())
    }
}

/// The directory of a checkpoint spec, with the hub settings of the process environment.
pub fn resolve(spec: &str) -> Result<PathBuf, HubError> {
    HubConfig::from_env().resolve(spec)
}

/// `config.json` and a weight file are there.
fn has_model(dir: &Path) -> bool {
    dir.join("config.json").is_file() && WEIGHT_FILES.iter().any(|f| dir.join(f).is_file())
}

fn is_commit_hash(s: &str) -> bool {
    s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// One resolution's downloads.
struct Fetch<'a> {
    config: &'a HubConfig,
    id: &'a str,
    revision: &'a str,
    repo: ApiRepo,
}

impl<'a> Fetch<'a> {
    fn new(config: &'a HubConfig, id: &'a str, revision: &'a str) -> Result<Self, HubError> {
        let api = ApiBuilder::from_cache(Cache::new(config.cache_dir.clone()))
            .with_endpoint(config.endpoint.clone())
            .with_token(config.token.clone())
            .with_progress(config.progress)
            .with_retries(config.retries)
            .build()
            .map_err(|e| HubError::Download {
                id: id.into(),
                file: "(none)".into(),
                url: config.endpoint.clone(),
                cache: config.cache_dir.clone(),
                message: e.to_string(),
            })?;
        let repo = api.repo(Repo::with_revision(
            id.to_string(),
            RepoType::Model,
            revision.to_string(),
        ));
        Ok(Fetch {
            config,
            id,
            revision,
            repo,
        })
    }

    /// The cached or downloaded file; `None` when the hub answers 404 for it.
    fn get(&self, file: &str) -> Result<Option<PathBuf>, HubError> {
        let cached = self
            .config
            .cached_snapshot(self.id, self.revision)
            .map(|d| d.join(file))
            .filter(|p| p.is_file());
        if let Some(path) = cached {
            return Ok(Some(path));
        }
        let url = self.repo.url(file);
        match self.repo.download(file) {
            Ok(path) => {
                self.verify(file, &path)?;
                Ok(Some(path))
            }
            Err(ApiError::RequestError(e)) => match *e {
                ureq2::Error::Status(404, _) => Ok(None),
                ureq2::Error::Status(status @ (401 | 403), _) => Err(HubError::Denied {
                    id: self.id.into(),
                    url,
                    status,
                }),
                other => Err(self.failed(file, url, other.to_string())),
            },
            Err(e) => Err(self.failed(file, url, e.to_string())),
        }
    }

    /// Like [`Self::get`], but a missing file is recorded in `.no_exist/<commit>/` (and skipped
    /// when already recorded there).
    fn get_or_mark(&self, snapshot: &Path, file: &str) -> Result<Option<PathBuf>, HubError> {
        if snapshot.join(file).is_file() {
            return Ok(Some(snapshot.join(file)));
        }
        let commit = snapshot.file_name().unwrap_or_default();
        let marker = self
            .config
            .repo_dir(self.id)
            .join(".no_exist")
            .join(commit)
            .join(file);
        if marker.exists() {
            return Ok(None);
        }
        let found = self.get(file)?;
        if found.is_none() {
            let io = |source| HubError::Io {
                path: marker.clone(),
                source,
            };
            std::fs::create_dir_all(marker.parent().expect("has a parent")).map_err(io)?;
            std::fs::write(&marker, b"").map_err(io)?;
        }
        Ok(found)
    }

    fn failed(&self, file: &str, url: String, message: String) -> HubError {
        HubError::Download {
            id: self.id.into(),
            file: file.into(),
            url,
            cache: self.config.cache_dir.clone(),
            message,
        }
    }

    /// A blob named by a SHA-256 ETag (LFS files) must hash to it; a mismatching blob and its
    /// snapshot link are deleted.
    fn verify(&self, file: &str, pointer: &Path) -> Result<(), HubError> {
        let Ok(target) = std::fs::read_link(pointer) else {
            return Ok(()); // not a link (a copy): nothing to compare against
        };
        let blob = pointer.parent().expect("has a parent").join(&target);
        let etag = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if etag.len() != 64 || !etag.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(());
        }
        let io = |source| HubError::Io {
            path: blob.clone(),
            source,
        };
        let mut reader = std::fs::File::open(&blob).map_err(io)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let digest: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if digest.eq_ignore_ascii_case(&etag) {
            return Ok(());
        }
        let _ = std::fs::remove_file(pointer);
        let _ = std::fs::remove_file(&blob);
        Err(HubError::Corrupt {
            id: self.id.into(),
            file: file.into(),
            expected: etag,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> HubConfig {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HubConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn hub_ids_and_revisions_are_told_from_paths() {
        let hub = |id: &str, rev: &str| CheckpointSource::Hub {
            id: id.into(),
            revision: rev.into(),
        };
        assert_eq!(CheckpointSource::parse("gpt2"), hub("gpt2", "main"));
        assert_eq!(
            CheckpointSource::parse("lvwerra/gpt2-imdb@v1.0"),
            hub("lvwerra/gpt2-imdb", "v1.0")
        );
        assert_eq!(CheckpointSource::parse("t5-base"), hub("t5-base", "main"));
        for path in ["runs/a/b", "./gpt2", "/abs/model", "a--b", "gpt2@", "x/.y"] {
            assert_eq!(
                CheckpointSource::parse(path),
                CheckpointSource::Local(path.into()),
                "{path}"
            );
        }
        // An existing directory wins over the hub id of the same name.
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().to_str().unwrap();
        assert_eq!(
            CheckpointSource::parse(spec),
            CheckpointSource::Local(dir.path().into())
        );
    }

    #[test]
    fn the_cache_follows_hugging_face_variables_in_their_order() {
        let c = config(&[("HOME", "/h")]);
        assert_eq!(c.cache_dir, PathBuf::from("/h/.cache/huggingface/hub"));
        assert_eq!(c.endpoint, "https://huggingface.co");
        assert!(!c.offline && c.progress);
        let c = config(&[("HOME", "/h"), ("XDG_CACHE_HOME", "/x")]);
        assert_eq!(c.cache_dir, PathBuf::from("/x/huggingface/hub"));
        let c = config(&[("HF_HOME", "/hf"), ("XDG_CACHE_HOME", "/x")]);
        assert_eq!(c.cache_dir, PathBuf::from("/hf/hub"));
        let c = config(&[("HF_HOME", "/hf"), ("HF_HUB_CACHE", "/cache")]);
        assert_eq!(c.cache_dir, PathBuf::from("/cache"));
        let c = config(&[
            ("TRANSFORMERS_CACHE", "/t"),
            ("HUGGINGFACE_HUB_CACHE", "/old"),
        ]);
        assert_eq!(c.cache_dir, PathBuf::from("/old"));
        let c = config(&[
            ("HF_ENDPOINT", "http://127.0.0.1:9/"),
            ("HF_HUB_OFFLINE", "1"),
            ("HF_HUB_DISABLE_PROGRESS_BARS", "true"),
            ("HF_TOKEN", "hf_x"),
        ]);
        assert_eq!(c.endpoint, "http://127.0.0.1:9");
        assert!(c.offline && !c.progress);
        assert_eq!(c.token.as_deref(), Some("hf_x"));
        assert!(config(&[("TRANSFORMERS_OFFLINE", "yes")]).offline);
        assert!(!config(&[("HF_HUB_OFFLINE", "0")]).offline);
    }

    #[test]
    fn a_commit_hash_revision_reads_its_snapshot_without_a_ref() {
        let tmp = tempfile::tempdir().unwrap();
        let c = HubConfig {
            cache_dir: tmp.path().into(),
            offline: true,
            ..config(&[])
        };
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let snap = c.repo_dir("org/m").join("snapshots").join(commit);
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::write(snap.join("config.json"), "{}").unwrap();
        std::fs::write(snap.join("model.safetensors"), "").unwrap();
        assert_eq!(c.resolve(&format!("org/m@{commit}")).unwrap(), snap);
        let err = c.resolve("org/m").unwrap_err().to_string();
        assert!(
            err.contains("`org/m`") && err.contains("HF_HUB_OFFLINE"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_directory_that_is_no_hub_id_names_both_readings() {
        let err = config(&[]).resolve("no/such/dir").unwrap_err().to_string();
        assert!(
            err.contains("`no/such/dir`") && err.contains("hub id"),
            "{err}"
        );
    }
}
