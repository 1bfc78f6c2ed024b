//! The dataset registry: for every dataset an experiment reads, the files that must be in the data
//! directory (with the check each must pass), and where to download them from (URL, sha256,
//! what to extract). [`crate::acquire`] fetches and checks; the loaders check through
//! [`crate::checksum`], which looks files up here.
//!
//! Honesty about hashes (also in the data section of the README):
//! * `Known(...)` download hashes come from the sources named beside them (TensorFlow Datasets'
//!   checksum lists, tiktoken, or `MANIFEST.md` of the shared data folder, whose files were taken
//!   from exactly those pinned GitHub blobs). None of the downloads was made from this project's
//!   build machine, which has no internet access: the URLs and hashes are as published, untested
//!   here against the live servers.
//! * Where a file's sha256 is not known, the download is marked `None` and its content is checked
//!   after extraction instead (e.g. the WikiText-2 validation and test splits); a file with no
//!   check at all is reported as "present, unverified" by `runner data status`.
//! * Files the shared folder holds in another form than upstream are accepted in both forms,
//!   by content: MNIST by the sha256 of the decompressed IDX data (the shared train images were
//!   re-compressed), CIFAR-10 by the sha256 of the first 4,000 / 1,000 records (the shared copy is
//!   that subset of the canonical batches).

/// How a file in the data directory is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The file's sha256.
    Sha256(&'static str),
    /// A gzip file whose decompressed content has this sha256, whatever the compression.
    GunzipSha256(&'static str),
    /// The first `len` bytes have this sha256 (a canonical file of which we use a prefix).
    PrefixSha256 { len: u64, sha256: &'static str },
    /// No hash is known: being present is all that is checked.
    Unverified,
}

/// A file in the data directory, relative to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpec {
    pub path: &'static str,
    pub check: Check,
}

/// One thing a dataset needs: any one of `any_of` (e.g. the shared subset or the canonical file).
#[derive(Debug, Clone, Copy)]
pub struct Need {
    pub what: &'static str,
    pub any_of: &'static [FileSpec],
}

/// What to do with a downloaded file.
#[derive(Debug, Clone, Copy)]
pub enum Unpack {
    /// Keep it at this path (relative to the data directory).
    Keep(&'static str),
    /// Extract `(member, destination)` pairs from a `.tar.gz`, then delete the archive.
    TarGz(&'static [(&'static str, &'static str)]),
    /// Extract `(member, destination)` pairs from a `.zip`, then delete the archive.
    Zip(&'static [(&'static str, &'static str)]),
    /// Build `outputs` (paths relative to the data directory) from the download with `build`
    /// (given the downloaded file and where to write each output), then delete the download.
    Build {
        outputs: &'static [&'static str],
        build: Builder,
    },
}

impl Unpack {
    /// The files (relative to the data directory) this download provides.
    pub fn outputs(&self) -> Vec<&'static str> {
        match *self {
            Unpack::Keep(rel) => vec![rel],
            Unpack::TarGz(m) | Unpack::Zip(m) => m.iter().map(|(_, d)| *d).collect(),
            Unpack::Build { outputs, .. } => outputs.to_vec(),
        }
    }
}

/// Makes the files a loader reads out of a download that does not hold them as they are (e.g. the
/// IMDB CSV subsets out of the review archive): `(download, outputs in the registry's order)`.
pub type Builder = fn(&std::path::Path, &[std::path::PathBuf]) -> Result<(), String>;

/// One download.
#[derive(Debug, Clone, Copy)]
pub struct Download {
    pub url: &'static str,
    /// sha256 of the file served, where known (see the module documentation).
    pub sha256: Option<&'static str>,
    pub size: Option<u64>,
    /// Where the hash comes from.
    pub hash_source: &'static str,
    pub unpack: Unpack,
}

/// A dataset: what must be present and how to get it.
#[derive(Debug, Clone, Copy)]
pub struct Dataset {
    /// Short id used on the command line (`runner data fetch mnist`).
    pub id: &'static str,
    pub title: &'static str,
    pub needs: &'static [Need],
    pub downloads: &'static [Download],
    /// Where the files come from and how they differ from other copies.
    pub provenance: &'static str,
}

/// An experiment (the `experiment:` of a sweep file) and the datasets it reads.
#[derive(Debug, Clone, Copy)]
pub struct Experiment {
    pub name: &'static str,
    pub datasets: &'static [&'static str],
    pub note: &'static str,
}

const fn file(path: &'static str, sha256: &'static str) -> FileSpec {
    FileSpec {
        path,
        check: Check::Sha256(sha256),
    }
}

const fn one(what: &'static str, spec: &'static [FileSpec]) -> Need {
    Need { what, any_of: spec }
}

const TFDS: &str = "TensorFlow Datasets url_checksums";
const MANIFEST_HASH: &str = "MANIFEST.md of the shared data folder (the same pinned blob)";

const CIFAR_TRAIN_PREFIX: u64 = 4000 * 3073;
const CIFAR_TEST_PREFIX: u64 = 1000 * 3073;
const CIFAR_TRAIN_SHA: &str = "0993cf8b8e43bc207603aef9787006995746513f5e3fa5a52e06d1b069926330";
const CIFAR_TEST_SHA: &str = "8314c96d7cd65618193bab23acdd5d4c4af15bf6dd00a1781d55beedf3be1ef5";

/// Every dataset, in the order `runner data status` lists them.
pub const DATASETS: &[Dataset] = &[
    Dataset {
        id: "mnist",
        title: "MNIST",
        needs: &[
            one(
                "train images",
                &[FileSpec {
                    path: "mnist/train-images-idx3-ubyte.gz",
                    check: Check::GunzipSha256(
                        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                    ),
                }],
            ),
            one(
                "train labels",
                &[FileSpec {
                    path: "mnist/train-labels-idx1-ubyte.gz",
                    check: Check::GunzipSha256(
                        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                    ),
                }],
            ),
            one(
                "test images",
                &[FileSpec {
                    path: "mnist/t10k-images-idx3-ubyte.gz",
                    check: Check::GunzipSha256(
                        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                    ),
                }],
            ),
            one(
                "test labels",
                &[FileSpec {
                    path: "mnist/t10k-labels-idx1-ubyte.gz",
                    check: Check::GunzipSha256(
                        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                    ),
                }],
            ),
        ],
        downloads: &[
            Download {
                url: "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",
                sha256: Some("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
                size: Some(9_912_422),
                hash_source: TFDS,
                unpack: Unpack::Keep("mnist/train-images-idx3-ubyte.gz"),
            },
            Download {
                url: "https://ossci-datasets.s3.amazonaws.com/mnist/train-labels-idx1-ubyte.gz",
                sha256: Some("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
                size: Some(28_881),
                hash_source: TFDS,
                unpack: Unpack::Keep("mnist/train-labels-idx1-ubyte.gz"),
            },
            Download {
                url: "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz",
                sha256: Some("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
                size: Some(1_648_877),
                hash_source: TFDS,
                unpack: Unpack::Keep("mnist/t10k-images-idx3-ubyte.gz"),
            },
            Download {
                url: "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
                sha256: Some("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
                size: Some(4_542),
                hash_source: TFDS,
                unpack: Unpack::Keep("mnist/t10k-labels-idx1-ubyte.gz"),
            },
        ],
        provenance: "torchvision's mirror of LeCun's MNIST files; .gz hashes as TFDS lists them for its own mirror of the same files. \
            The loader checks the decompressed IDX content (sha256 computed here from the shared copy, whose decompressed md5s equal the canonical ones), \
            so the canonical .gz files and the shared re-compressed ones are both accepted.",
    },
    Dataset {
        id: "cifar10",
        title: "CIFAR-10",
        needs: &[
            one(
                "train records (first 4,000 of data_batch_1)",
                &[
                    FileSpec {
                        path: "cifar10/data_batch_1_first4000.bin",
                        check: Check::Sha256(CIFAR_TRAIN_SHA),
                    },
                    FileSpec {
                        path: "cifar10/data_batch_1.bin",
                        check: Check::PrefixSha256 {
                            len: CIFAR_TRAIN_PREFIX,
                            sha256: CIFAR_TRAIN_SHA,
                        },
                    },
                ],
            ),
            one(
                "test records (first 1,000 of test_batch)",
                &[
                    FileSpec {
                        path: "cifar10/test_batch_first1000.bin",
                        check: Check::Sha256(CIFAR_TEST_SHA),
                    },
                    FileSpec {
                        path: "cifar10/test_batch.bin",
                        check: Check::PrefixSha256 {
                            len: CIFAR_TEST_PREFIX,
                            sha256: CIFAR_TEST_SHA,
                        },
                    },
                ],
            ),
        ],
        downloads: &[Download {
            url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
            sha256: Some("c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),
            size: Some(170_052_171),
            hash_source: TFDS,
            unpack: Unpack::TarGz(&[
                (
                    "cifar-10-batches-bin/data_batch_1.bin",
                    "cifar10/data_batch_1.bin",
                ),
                (
                    "cifar-10-batches-bin/test_batch.bin",
                    "cifar10/test_batch.bin",
                ),
            ]),
        }],
        provenance: "Krizhevsky's binary archive. The loaders read the first 4,000 train / 1,000 test records (the shared copy is exactly \
            that subset, rebuilt from lossless PNGs), so results are the same with either; the canonical batches are checked by the sha256 of that prefix.",
    },
    Dataset {
        id: "glue-stsb",
        title: "GLUE STS-B",
        needs: &[
            one(
                "train.tsv",
                &[file(
                    "glue-stsb/train.tsv",
                    "41c4d978b6162abdcada7e49a982211954cca5459c228db478af333124b257a2",
                )],
            ),
            one(
                "dev.tsv",
                &[file(
                    "glue-stsb/dev.tsv",
                    "fe7dc0632a5033562f3cadff991f6e8d9b9b6311861660e78c3c82eb7db67f59",
                )],
            ),
        ],
        downloads: &[Download {
            url: "https://dl.fbaipublicfiles.com/glue/data/STS-B.zip",
            sha256: Some("e60a6393de5a8b5b9bac5020a1554b54e3691f9d600b775bd131e613ac179c85"),
            size: Some(802_872),
            hash_source: "TFDS url_checksums for GLUE's earlier (firebase) URL of the same STS-B.zip",
            unpack: Unpack::Zip(&[
                ("STS-B/train.tsv", "glue-stsb/train.tsv"),
                ("STS-B/dev.tsv", "glue-stsb/dev.tsv"),
            ]),
        }],
        provenance: "The GLUE download script's archive. The extracted TSVs are checked against MANIFEST.md's hashes, which are of a copy \
            described there as the unmodified GLUE files (not compared with this archive here).",
    },
    Dataset {
        id: "bert-vocab",
        title: "BERT vocabulary (bert-base-uncased)",
        needs: &[one(
            "vocab.txt",
            &[file(
                "bert-vocab/vocab.txt",
                "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
            )],
        )],
        downloads: &[Download {
            url: "https://huggingface.co/google-bert/bert-base-uncased/resolve/main/vocab.txt",
            sha256: Some("07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"),
            size: Some(231_508),
            hash_source: MANIFEST_HASH,
            unpack: Unpack::Keep("bert-vocab/vocab.txt"),
        }],
        provenance: "Hugging Face's bert-base-uncased vocab.txt (also prajjwal1/bert-mini's).",
    },
    Dataset {
        id: "gpt2-tokenizer",
        title: "GPT-2 tokenizer (encoder.json, vocab.bpe)",
        needs: &[
            one(
                "encoder.json",
                &[file(
                    "tokenizers/gpt2/encoder.json",
                    "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
                )],
            ),
            one(
                "vocab.bpe",
                &[file(
                    "tokenizers/gpt2/vocab.bpe",
                    "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
                )],
            ),
        ],
        downloads: &[
            Download {
                url: "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
                sha256: Some("196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"),
                size: Some(1_042_301),
                hash_source: "tiktoken (the hashes it checks for gpt2)",
                unpack: Unpack::Keep("tokenizers/gpt2/encoder.json"),
            },
            Download {
                url: "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
                sha256: Some("1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"),
                size: Some(456_318),
                hash_source: "tiktoken (the hashes it checks for gpt2)",
                unpack: Unpack::Keep("tokenizers/gpt2/vocab.bpe"),
            },
        ],
        provenance: "OpenAI's GPT-2 encoder files, the ones tiktoken downloads (same content as Hugging Face gpt2 vocab.json / merges.txt).",
    },
    Dataset {
        id: "t5-tokenizer",
        title: "T5 tokenizer (spiece.model)",
        needs: &[one(
            "spiece.model",
            &[file(
                "tokenizers/t5/spiece.model",
                "d60acb128cf7b7f2536e8f38a5b18a05535c9e14c7a355904270e15b0945ea86",
            )],
        )],
        downloads: &[Download {
            url: "https://huggingface.co/google-t5/t5-small/resolve/main/spiece.model",
            sha256: Some("d60acb128cf7b7f2536e8f38a5b18a05535c9e14c7a355904270e15b0945ea86"),
            size: Some(791_656),
            hash_source: MANIFEST_HASH,
            unpack: Unpack::Keep("tokenizers/t5/spiece.model"),
        }],
        provenance: "Hugging Face t5-small's SentencePiece model (shared by t5-small/base/large).",
    },
    Dataset {
        id: "wikitext-2",
        title: "WikiText-2 (v1, tokenized)",
        // Only the validation and test splits are read (the pretraining corpus of the mini models,
        // `crates/pretrain`); the archive's train split is not extracted.
        needs: &[
            one(
                "validation split",
                &[file(
                    "wikitext-2/valid.txt",
                    "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
                )],
            ),
            one(
                "test split",
                &[file(
                    "wikitext-2/test.txt",
                    "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0",
                )],
            ),
        ],
        downloads: &[Download {
            url: "https://wikitext.smerity.com/wikitext-2-v1.zip",
            sha256: None,
            size: None,
            hash_source: "unknown: the archive's sha256 is not published where we could read it; the validation and test files are checked after extraction",
            unpack: Unpack::Zip(&[
                ("wikitext-2/wiki.valid.tokens", "wikitext-2/valid.txt"),
                ("wikitext-2/wiki.test.tokens", "wikitext-2/test.txt"),
            ]),
        }],
        provenance: "Salesforce's archive (the URL Hugging Face datasets uses). The shared folder lacks the train split (see its MANIFEST.md).",
    },
    Dataset {
        id: "commongen",
        title: "CommonGen (initial public release)",
        needs: &[
            one(
                "train source",
                &[file(
                    "commongen/commongen.train.src_alpha.txt",
                    "df8c1f7409f6f21f0908ef0f3d88d8f20a09a4df054d85b3b4acc39e51d2fe55",
                )],
            ),
            one(
                "train target",
                &[file(
                    "commongen/commongen.train.tgt.txt",
                    "cc33cfc96d138176249e6e0b7f083282395b8c1b309e966eae4eb253ba25e48d",
                )],
            ),
            one(
                "dev source",
                &[file(
                    "commongen/commongen.dev.src_alpha.txt",
                    "d0a4faeced8af82ad6918ee5b6dc6235c87792403926af5a42b0cbf1fa41bc20",
                )],
            ),
            one(
                "dev target",
                &[file(
                    "commongen/commongen.dev.tgt.txt",
                    "8e88da53f6ca3ce372ac33bae60c022617ee9a67d841420c330ae2f3fd0895bd",
                )],
            ),
            one(
                "test source",
                &[file(
                    "commongen/commongen.test.src_alpha.txt",
                    "fc1fb351c73951649d314c106dcb3ba914eb4026683fa7d866377c56f30e7184",
                )],
            ),
            one(
                "test target",
                &[file(
                    "commongen/commongen.test.tgt.txt",
                    "34c9f28c43741a72d1130380b68518103f7a8fc4f66df0db3228dcc01f52390f",
                )],
            ),
            one(
                "train concept sets",
                &[file(
                    "commongen/commongen.train.cs_str.txt",
                    "5627bf12ff07a888e519b5fe19c2f833ea034735e6e06e497599fd06bd806f7e",
                )],
            ),
            one(
                "train concept-set numbers",
                &[file(
                    "commongen/commongen.train.index.txt",
                    "74d0a03bb30d1616e173c59c6f0004255b5138ea45ea158af0976ddfdc092d57",
                )],
            ),
            one(
                "dev concept sets",
                &[file(
                    "commongen/commongen.dev.cs_str.txt",
                    "097c85b2bcca976eb531ffbe73d61b5cbc0304aad24bb53b449e424e911a070d",
                )],
            ),
            one(
                "dev concept-set numbers",
                &[file(
                    "commongen/commongen.dev.index.txt",
                    "b4f2800d93afa98c2f26800c557684db4f564e37ee5ebc06405babdf5df45165",
                )],
            ),
            one(
                "test concept sets",
                &[file(
                    "commongen/commongen.test.cs_str.txt",
                    "d7d7370fd17efd679357ed03aaafaffccbec8665961f73d00525083522bfba1b",
                )],
            ),
            one(
                "test concept-set numbers",
                &[file(
                    "commongen/commongen.test.index.txt",
                    "0aa9e5630a74f7552d0e6707c9ea4c74baedd571ec926cf849acaaa77637373f",
                )],
            ),
        ],
        downloads: &[
            Download {
                url: "https://raw.githubusercontent.com/INK-USC/CommonGen/f5a4d0140876cf862cb41ffc9aefa834d0d6d0f7/dataset/final_data/commongen/commongen.train.src_alpha.txt",
                sha256: Some("df8c1f7409f6f21f0908ef0f3d88d8f20a09a4df054d85b3b4acc39e51d2fe55"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("commongen/commongen.train.src_alpha.txt"),
            },
            Download {
                url: "https://raw.githubusercontent.com/INK-USC/CommonGen/f5a4d0140876cf862cb41ffc9aefa834d0d6d0f7/dataset/final_data/commongen/commongen.train.tgt.txt",
                sha256: Some("cc33cfc96d138176249e6e0b7f083282395b8c1b309e966eae4eb253ba25e48d"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("commongen/commongen.train.tgt.txt"),
            },
            Download {
                url: "https://raw.githubusercontent.com/INK-USC/CommonGen/f5a4d0140876cf862cb41ffc9aefa834d0d6d0f7/dataset/final_data/commongen/commongen.dev.src_alpha.txt",
                sha256: Some("d0a4faeced8af82ad6918ee5b6dc6235c87792403926af5a42b0cbf1fa41bc20"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("commongen/commongen.dev.src_alpha.txt"),
            },
            Download {
                url: "https://raw.githubusercontent.com/INK-USC/CommonGen/f5a4d0140876cf862cb41ffc9aefa834d0d6d0f7/dataset/final_data/commongen/commongen.dev.tgt.txt",
                sha256: Some("8e88da53f6ca3ce372ac33bae60c022617ee9a67d841420c330ae2f3fd0895bd"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("commongen/commongen.dev.tgt.txt"),
            },
            Download {
                url: "https://raw.githubusercontent.com/INK-USC/CommonGen/f5a4d0140876cf862cb41ffc9aefa834d0d6d0f7/dataset/final_data/commongen/commongen.test.src_alpha.txt",
                sha256: Some("fc1fb351c73951649d314c106dcb3ba914eb4026683fa7d866377c56f30e7184"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("commongen/commongen.test.src_alpha.txt"),
            },
            Download {
                url: "https://raw.githubusercontent.com/INK-USC/CommonGen/f5a4d0140876cf862cb41ffc9aefa834d0d6d0f7/dataset/final_data/commongen/commongen.test.tgt.txt",
                sha256: Some("34c9f28c43741a72d1130380b68518103f7a8fc4f66df0db3228dcc01f52390f"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("commongen/commongen.test.tgt.txt"),
            },
            Download {
                url: "https://raw.githubusercontent.com/INK-USC/CommonGen/f5a4d0140876cf862cb41ffc9aefa834d0d6d0f7/dataset/final_data/commongen/commongen.train.cs_str.txt",
                sha256: Some("5627bf12ff07a888e519b5fe19c2f833ea034735e6e06e497599fd06bd806f7e"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("commongen/commongen.train.cs_str.txt"),
            },
            Download {
                url: "https://raw.githubusercontent.com/INK-USC/CommonGen/f5a4d0140876cf862cb41ffc9aefa834d0d6d0f7/dataset/final_data/commongen/commongen.train.index.txt",
                sha256: Some("74d0a03bb30d1616e173c59c6f0004255b5138ea45ea158af0976ddfdc092d57"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("commongen/commongen.train.index.txt"),
            },
            Download {
                url: "https://raw.githubusercontent.com/INK-USC/CommonGen/f5a4d0140876cf862cb41ffc9aefa834d0d6d0f7/dataset/final_data/commongen/commongen.dev.cs_str.txt",
                sha256: Some("097c85b2bcca976eb531ffbe73d61b5cbc0304aad24bb53b449e424e911a070d"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("commongen/commongen.dev.cs_str.txt"),
            },
            Download {
                url: "https://raw.githubusercontent.com/INK-USC/CommonGen/f5a4d0140876cf862cb41ffc9aefa834d0d6d0f7/dataset/final_data/commongen/commongen.dev.index.txt",
                sha256: Some("b4f2800d93afa98c2f26800c557684db4f564e37ee5ebc06405babdf5df45165"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("commongen/commongen.dev.index.txt"),
            },
            Download {
                url: "https://raw.githubusercontent.com/INK-USC/CommonGen/f5a4d0140876cf862cb41ffc9aefa834d0d6d0f7/dataset/final_data/commongen/commongen.test.cs_str.txt",
                sha256: Some("d7d7370fd17efd679357ed03aaafaffccbec8665961f73d00525083522bfba1b"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("commongen/commongen.test.cs_str.txt"),
            },
            Download {
                url: "https://raw.githubusercontent.com/INK-USC/CommonGen/f5a4d0140876cf862cb41ffc9aefa834d0d6d0f7/dataset/final_data/commongen/commongen.test.index.txt",
                sha256: Some("0aa9e5630a74f7552d0e6707c9ea4c74baedd571ec926cf849acaaa77637373f"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("commongen/commongen.test.index.txt"),
            },
        ],
        provenance: "The authors' repository at its first public commit (the files of the shared copy). The later v1.0 release \
            (Hugging Face common_gen, commongen_data.zip) has a larger train split in another layout and is not registered.",
    },
    Dataset {
        id: "dailydialog",
        title: "DailyDialog (official splits)",
        needs: &[
            one(
                "train dialogues",
                &[file(
                    "dailydialog/train/dialogues_train.txt",
                    "71633bd5fdb0b09dd82215b131b56432cf7329a0fe50bc8adec168713d350d1a",
                )],
            ),
            one(
                "validation dialogues",
                &[file(
                    "dailydialog/validation/dialogues_validation.txt",
                    "2ad64701fe3a4449e7a6ee7cdc6c2a71c80f77b8a34f708ac0532395f499081c",
                )],
            ),
            one(
                "test dialogues",
                &[file(
                    "dailydialog/test/dialogues_test.txt",
                    "3c323651cdfb09f7b529f850eddf96a638fc6cc9b43330b77956ab248484a1a8",
                )],
            ),
        ],
        downloads: &[
            Download {
                url: "https://raw.githubusercontent.com/Ls-Dai/Deep-Reinforcement-Learning-for-Dialogue-Generation-in-PyTorch/bae51b16e3e8c0ce4ffd70b75ecfc40fbeb8e7ee/data/train.zip",
                sha256: Some("6191257f8250da0e045bfd1d017645e15b2358df975ec4c5c431a5a1f99662a4"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Zip(&[(
                    "train/dialogues_train.txt",
                    "dailydialog/train/dialogues_train.txt",
                )]),
            },
            Download {
                url: "https://raw.githubusercontent.com/Ls-Dai/Deep-Reinforcement-Learning-for-Dialogue-Generation-in-PyTorch/bae51b16e3e8c0ce4ffd70b75ecfc40fbeb8e7ee/data/validation.zip",
                sha256: Some("f068cf7526a56ab5f26e99b74ce9edbc2766f7b060a3c6cef035920b0dd28153"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Zip(&[(
                    "validation/dialogues_validation.txt",
                    "dailydialog/validation/dialogues_validation.txt",
                )]),
            },
            Download {
                url: "https://raw.githubusercontent.com/Ls-Dai/Deep-Reinforcement-Learning-for-Dialogue-Generation-in-PyTorch/bae51b16e3e8c0ce4ffd70b75ecfc40fbeb8e7ee/data/test.zip",
                sha256: Some("5f9526a5ce4b8af4ca237aa3ff38cbf03becbc596c70b0974d7f5f9af2ea0615"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Zip(&[(
                    "test/dialogues_test.txt",
                    "dailydialog/test/dialogues_test.txt",
                )]),
            },
        ],
        provenance: "The official train/validation/test zips (as shipped inside ijcnlp_dailydialog.zip from yanran.li, whose own sha256 is unknown here), from the pinned repository that holds them.",
    },
    Dataset {
        id: "iwslt2017-en-de",
        title: "IWSLT 2017 en-de (tst2016, tst2017)",
        needs: &[
            one(
                "tst2016 English",
                &[file(
                    "iwslt2017-en-de/en-de/IWSLT17.TED.tst2016.en-de.en.xml",
                    "10510092bffdbd72a6543c00d1a04772084b8caad1804a00f41bd8f67ac18bdb",
                )],
            ),
            one(
                "tst2017 English",
                &[file(
                    "iwslt2017-en-de/en-de/IWSLT17.TED.tst2017.en-de.en.xml",
                    "e91dbe5dc98c633b9099208cc268734284a5679e2c92d1b6cf7bdded70db5dc5",
                )],
            ),
            one(
                "tst2016 German",
                &[file(
                    "iwslt2017-en-de/de-en/IWSLT17.TED.tst2016.de-en.de.xml",
                    "6f653002748d8a2228fea7adb37581be6c9d96afd26e8f9d0a9c4219770ee369",
                )],
            ),
            one(
                "tst2017 German",
                &[file(
                    "iwslt2017-en-de/de-en/IWSLT17.TED.tst2017.de-en.de.xml",
                    "5ddaaa6bb4f926b12a869b40e234f3e53e21468dfb2d44806ac64e499251e93b",
                )],
            ),
        ],
        downloads: &[
            Download {
                url: "https://raw.githubusercontent.com/hlt-mt/WIT3/e43615b79232e9cc0fccc76d90fd1c658146d29d/archive/2017-01-ted-test/texts/en/de/en-de.tgz",
                sha256: Some("0c786a6905618af716da365592594473481ba9548a922506aaf6c17f1aee27e4"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::TarGz(&[
                    (
                        "en-de/IWSLT17.TED.tst2016.en-de.en.xml",
                        "iwslt2017-en-de/en-de/IWSLT17.TED.tst2016.en-de.en.xml",
                    ),
                    (
                        "en-de/IWSLT17.TED.tst2017.en-de.en.xml",
                        "iwslt2017-en-de/en-de/IWSLT17.TED.tst2017.en-de.en.xml",
                    ),
                ]),
            },
            Download {
                url: "https://raw.githubusercontent.com/hlt-mt/WIT3/e43615b79232e9cc0fccc76d90fd1c658146d29d/archive/2017-01-ted-test/texts/de/en/de-en.tgz",
                sha256: Some("b0034e3c957da26eaf3c573390c3fc669d509ea94c0b398889ad74bddadb4974"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::TarGz(&[
                    (
                        "de-en/IWSLT17.TED.tst2016.de-en.de.xml",
                        "iwslt2017-en-de/de-en/IWSLT17.TED.tst2016.de-en.de.xml",
                    ),
                    (
                        "de-en/IWSLT17.TED.tst2017.de-en.de.xml",
                        "iwslt2017-en-de/de-en/IWSLT17.TED.tst2017.de-en.de.xml",
                    ),
                ]),
            },
        ],
        provenance: "WIT3's official IWSLT 2017 test archives (the pairing sacreBLEU's iwslt17 en-de uses). The training archive \
            (2017-01-trnted/texts/en/de/en-de.tgz) is not registered: its sha256 is unknown here and no loader reads it yet.",
    },
    Dataset {
        id: "imdb",
        title: "IMDB Large Movie Review Dataset",
        needs: &[
            one(
                "train reviews (CSV subset)",
                &[file(
                    "imdb/imdb_train_subset.csv",
                    "18dd37f53dbb8059c353747cc651af16e7074c2ac484fbb9a3f21e98948e2a7b",
                )],
            ),
            one(
                "test reviews (CSV subset)",
                &[file(
                    "imdb/imdb_test_subset.csv",
                    "32e2d446284cd407f2aecc08e3959cd9fef860fcd61b2e264e936d0308355ad4",
                )],
            ),
        ],
        downloads: &[Download {
            url: "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
            sha256: Some("c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"),
            size: None,
            hash_source: "the value dataset loaders pin for this URL (e.g. MLDatasets.jl's IMDB registration)",
            unpack: Unpack::Build {
                outputs: &["imdb/imdb_train_subset.csv", "imdb/imdb_test_subset.csv"],
                build: crate::imdb_subset::build,
            },
        }],
        provenance: "Maas et al.'s aclImdb_v1 archive (84 MB, 100,000 review files); the loaders read 5,000-review CSV \
            subsets of it (per split, the 2,500 positive and 2,500 negative reviews with the smallest ids), which \
            `runner data fetch` builds from the archive by the rule of the shared folder's MANIFEST.md \
            (`data::imdb_subset`), byte-identical to the shared copies.",
    },
    Dataset {
        id: "narrativeqa",
        title: "NarrativeQA (validation and test; tokenized)",
        needs: &[
            one(
                "documents.csv",
                &[file(
                    "narrativeqa/documents.csv",
                    "6dffa4cc0b5c9963fe3a097c87f04aa7767da36627500cc7a0d69e2405e1144a",
                )],
            ),
            one(
                "validation questions",
                &[file(
                    "narrativeqa/tokenized/dev.json.zip",
                    "a436bd7336c5d1f102412219be2a328a2543105ce61c5b2c016c39ad8a9f2db0",
                )],
            ),
            one(
                "test questions",
                &[file(
                    "narrativeqa/tokenized/test.json.zip",
                    "69a3114d39cadf97a602721626d6c2edc0ce545fb632de3e7e7c893113337083",
                )],
            ),
            one(
                "validation raw answers",
                &[file(
                    "narrativeqa/raw-answers/narrativeqa_dev_answers.jsonl",
                    "5154c1afa98139763d3a87799051464bbb5e20dfb3971cb86f93245d05721e52",
                )],
            ),
            one(
                "test raw answers",
                &[file(
                    "narrativeqa/raw-answers/narrativeqa_test_answers.jsonl",
                    "956d346e29c62ca129821db76f8744aae8c0ef41656f296a6a147056318e879e",
                )],
            ),
        ],
        downloads: &[
            Download {
                url: "https://raw.githubusercontent.com/deepmind/narrativeqa/904246f6d1fe99a99a08a03501fe3e619af2cee5/documents.csv",
                sha256: Some("6dffa4cc0b5c9963fe3a097c87f04aa7767da36627500cc7a0d69e2405e1144a"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("narrativeqa/documents.csv"),
            },
            Download {
                url: "https://raw.githubusercontent.com/vjg28/BERT_on_NarrativeQA/d657a26973e2f44f2eef36b69ef11d327e24cd42/narrative_dataset/dev.json.zip",
                sha256: Some("a436bd7336c5d1f102412219be2a328a2543105ce61c5b2c016c39ad8a9f2db0"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("narrativeqa/tokenized/dev.json.zip"),
            },
            Download {
                url: "https://raw.githubusercontent.com/vjg28/BERT_on_NarrativeQA/d657a26973e2f44f2eef36b69ef11d327e24cd42/narrative_dataset/test.json.zip",
                sha256: Some("69a3114d39cadf97a602721626d6c2edc0ce545fb632de3e7e7c893113337083"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("narrativeqa/tokenized/test.json.zip"),
            },
            Download {
                url: "https://raw.githubusercontent.com/anthonywchen/mocha-leaderboard-data/19611b2987f1189900637e2ab3b70e79a7aab276/data/tmp/narrativeqa_dev_answers.jsonl",
                sha256: Some("5154c1afa98139763d3a87799051464bbb5e20dfb3971cb86f93245d05721e52"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("narrativeqa/raw-answers/narrativeqa_dev_answers.jsonl"),
            },
            Download {
                url: "https://raw.githubusercontent.com/anthonywchen/mocha-leaderboard-data/19611b2987f1189900637e2ab3b70e79a7aab276/data/tmp/narrativeqa_test_answers.jsonl",
                sha256: Some("956d346e29c62ca129821db76f8744aae8c0ef41656f296a6a147056318e879e"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("narrativeqa/raw-answers/narrativeqa_test_answers.jsonl"),
            },
        ],
        provenance: "The files of the shared copy, from their pinned repositories. The canonical qaps.csv / summaries.csv of deepmind/narrativeqa \
            (and with them the train split) are not registered: their sha256 is unknown here and no loader reads them yet.",
    },
    Dataset {
        id: "totto",
        title: "ToTTo (official samples)",
        needs: &[
            one(
                "dev sample",
                &[file(
                    "totto/dev_sample.jsonl",
                    "ec3d8e720b89a3f01419e8386df9738071357e088ba169db4a58323daa78e629",
                )],
            ),
            one(
                "train sample",
                &[file(
                    "totto/train_sample.jsonl",
                    "0a90f186920f83995babe30ee5b78e7e66ae7fcad9c0960c1ebf2979811d7195",
                )],
            ),
            one(
                "dev sample (2020-04-27 version: 5 other examples)",
                &[file(
                    "totto/dev_sample.2020-04-27.jsonl",
                    "bbccc31dfcc6670af5cc70c0fc0ac3a466c6fb7a34edb5bf1b6d6f7e350a4ee5",
                )],
            ),
            one(
                "train sample (2020-04-27 version: 5 other examples)",
                &[file(
                    "totto/train_sample.2020-04-27.jsonl",
                    "d3d24a66962fb4ae7129d398b787887a7e626e0156d95c87f3d91b44df519f67",
                )],
            ),
        ],
        downloads: &[
            Download {
                url: "https://raw.githubusercontent.com/google-research/language/865fae65f63ef7e6b2989d4ff8b47f61750415a8/language/totto/sample/dev_sample.jsonl",
                sha256: Some("ec3d8e720b89a3f01419e8386df9738071357e088ba169db4a58323daa78e629"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("totto/dev_sample.jsonl"),
            },
            Download {
                url: "https://raw.githubusercontent.com/google-research/language/865fae65f63ef7e6b2989d4ff8b47f61750415a8/language/totto/sample/train_sample.jsonl",
                sha256: Some("0a90f186920f83995babe30ee5b78e7e66ae7fcad9c0960c1ebf2979811d7195"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("totto/train_sample.jsonl"),
            },
            Download {
                url: "https://raw.githubusercontent.com/google-research/language/c84bb78cc7befe6cc9e4a195439d983f7ba28227/language/totto/sample/dev_sample.jsonl",
                sha256: Some("bbccc31dfcc6670af5cc70c0fc0ac3a466c6fb7a34edb5bf1b6d6f7e350a4ee5"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("totto/dev_sample.2020-04-27.jsonl"),
            },
            Download {
                url: "https://raw.githubusercontent.com/google-research/language/c84bb78cc7befe6cc9e4a195439d983f7ba28227/language/totto/sample/train_sample.jsonl",
                sha256: Some("d3d24a66962fb4ae7129d398b787887a7e626e0156d95c87f3d91b44df519f67"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("totto/train_sample.2020-04-27.jsonl"),
            },
        ],
        provenance: "The official samples shipped with the ToTTo code. The full data (storage.googleapis.com/totto-public/totto_data.zip) is not registered: sha256 unknown here, no loader yet.",
    },
    Dataset {
        id: "cnn_dailymail",
        title: "CNN/DailyMail 3.0.0 (tiny subsets)",
        needs: &[
            one(
                "train rows 0-299",
                &[file(
                    "cnn_dailymail/hf-train-first300.csv",
                    "3eea88caca7c366067e0e35b660bff9e41ad48d9de1a3276d5fbfcae4e97e5bd",
                )],
            ),
            one(
                "test rows 0-99",
                &[file(
                    "cnn_dailymail/hf-test-first100.json",
                    "e2e920507cd3fcab03d952226d24c7879cb1636a06a1eb1ce9e93797072670d0",
                )],
            ),
        ],
        downloads: &[
            Download {
                url: "https://raw.githubusercontent.com/Emperor-Trillion/YORUBA-SUMMARY/431479012517f58979b5548e7b151b0160b6cd3d/cnn_dailymail_subset.csv",
                sha256: Some("3eea88caca7c366067e0e35b660bff9e41ad48d9de1a3276d5fbfcae4e97e5bd"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("cnn_dailymail/hf-train-first300.csv"),
            },
            Download {
                url: "https://raw.githubusercontent.com/qofo/distributed-agent-simulation/4385ee9e6d800636b476ec69ac2dcae961340ea8/data/cnn_dailymail_sample.json",
                sha256: Some("e2e920507cd3fcab03d952226d24c7879cb1636a06a1eb1ce9e93797072670d0"),
                size: None,
                hash_source: MANIFEST_HASH,
                unpack: Unpack::Keep("cnn_dailymail/hf-test-first100.json"),
            },
        ],
        provenance: "The first rows of Hugging Face cnn_dailymail 3.0.0 train and test, from the pinned repositories of the shared copy. \
            The full Hugging Face parquet files are not registered: their sha256 is unknown here and no loader reads them yet.",
    },
];

/// Every experiment and what it reads.
pub const EXPERIMENTS: &[Experiment] = &[
    Experiment {
        name: "theory",
        datasets: &[],
        note: "Theorems 1 and 2",
    },
    Experiment {
        name: "synthetic",
        datasets: &[],
        note: "synthetic RFT of a tiny GPT-2",
    },
    Experiment {
        name: "controlled",
        datasets: &["mnist", "cifar10", "glue-stsb", "bert-vocab"],
        note: "MLP/MNIST, ResNet18/CIFAR-10, BERT-mini/STS-B",
    },
    Experiment {
        name: "controlled_variants",
        datasets: &["cifar10", "glue-stsb", "bert-vocab"],
        note: "ResNet18 and BERT-mini variants",
    },
    Experiment {
        name: "grue",
        datasets: &[
            "gpt2-tokenizer",
            "t5-tokenizer",
            "imdb",
            "commongen",
            "cnn_dailymail",
            "totto",
            "iwslt2017-en-de",
            "narrativeqa",
            "dailydialog",
            "wikitext-2",
        ],
        note: "GRUE benchmark (Table 1, Section 5: planned; no sweep file yet)",
    },
    Experiment {
        name: "pretrain",
        datasets: &["wikitext-2", "imdb", "bert-vocab"],
        note: "mini GPT-2 / T5 pretrained here, and the IMDB sentiment classifier",
    },
    Experiment {
        name: "reward_std",
        datasets: GRUE_ALL,
        note: "Figure 1: per-input reward std on the GRUE tasks (models pretrained here)",
    },
    Experiment {
        name: "grue",
        datasets: GRUE_ALL,
        note: "Table 1 and Figure 2: RFT vs SFT vs SFT -> RFT on the GRUE tasks (models pretrained here)",
    },
    Experiment {
        name: "heuristics",
        datasets: &["wikitext-2", "imdb", "narrativeqa", "commongen"],
        note: "Table 2: learning rate, temperature, entropy bonus vs SFT before RFT (NarrativeQA)",
    },
    Experiment {
        name: "partial_sft",
        datasets: &["wikitext-2", "imdb", "narrativeqa", "commongen"],
        note: "the partial-SFT heatmap (NarrativeQA)",
    },
    Experiment {
        name: "remedies",
        datasets: &["wikitext-2", "imdb", "commongen"],
        note: "beyond the paper: remedies side by side (CommonGen)",
    },
];

/// What an experiment over every GRUE task reads: the pretraining corpora of the mini models, the
/// IMDB classifier's vocabulary, and the seven tasks.
const GRUE_ALL: &[&str] = &[
    "wikitext-2",
    "imdb",
    "bert-vocab",
    "commongen",
    "cnn_dailymail",
    "totto",
    "iwslt2017-en-de",
    "narrativeqa",
    "dailydialog",
];

pub fn dataset(id: &str) -> Option<&'static Dataset> {
    DATASETS.iter().find(|d| d.id == id)
}

pub fn experiment(name: &str) -> Option<&'static Experiment> {
    EXPERIMENTS.iter().find(|e| e.name == name)
}

/// The registry's entry for a file of the data directory (relative path), if any.
pub fn file_spec(rel: &str) -> Option<&'static FileSpec> {
    DATASETS
        .iter()
        .flat_map(|d| d.needs.iter())
        .flat_map(|n| n.any_of.iter())
        .find(|f| f.path == rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_hex64(s: &str) -> bool {
        s.len() == 64
            && s.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    }

    #[test]
    fn every_hash_in_the_registry_is_a_lowercase_sha256() {
        for d in DATASETS {
            for f in d.needs.iter().flat_map(|n| n.any_of) {
                match f.check {
                    Check::Sha256(h)
                    | Check::GunzipSha256(h)
                    | Check::PrefixSha256 { sha256: h, .. } => assert!(is_hex64(h), "{}", f.path),
                    Check::Unverified => {}
                }
            }
            for dl in d.downloads {
                if let Some(h) = dl.sha256 {
                    assert!(is_hex64(h), "{}", dl.url);
                }
            }
        }
    }

    #[test]
    fn every_extracted_or_kept_file_is_one_the_dataset_needs() {
        for d in DATASETS {
            let needed: Vec<&str> = d
                .needs
                .iter()
                .flat_map(|n| n.any_of.iter().map(|f| f.path))
                .collect();
            for dl in d.downloads {
                for p in dl.unpack.outputs() {
                    assert!(needed.contains(&p), "{}: {p} is not in its needs", d.id);
                    assert!(p.starts_with(&format!("{}/", p.split('/').next().unwrap())));
                }
            }
            assert!(!d.downloads.is_empty(), "{}: no upstream download", d.id);
            assert!(
                d.downloads.iter().all(|dl| dl.url.starts_with("https://")),
                "{}",
                d.id
            );
        }
    }

    #[test]
    fn every_experiment_names_registered_datasets_and_ids_are_unique() {
        for e in EXPERIMENTS {
            for id in e.datasets {
                assert!(dataset(id).is_some(), "{}: {id}", e.name);
            }
        }
        let mut ids: Vec<&str> = DATASETS.iter().map(|d| d.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), DATASETS.len());
    }

    #[test]
    fn the_files_the_loaders_read_are_all_registered() {
        for rel in [
            "mnist/train-images-idx3-ubyte.gz",
            "mnist/t10k-labels-idx1-ubyte.gz",
            crate::cifar10::TRAIN_FILE,
            crate::cifar10::TEST_FILE,
            crate::stsb::TRAIN_FILE,
            crate::stsb::DEV_FILE,
            "bert-vocab/vocab.txt",
        ] {
            assert!(file_spec(rel).is_some(), "{rel}");
        }
    }
}
