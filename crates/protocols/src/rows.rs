//! Typed result rows: one struct per table, converted to and from polars frames by one helper.
//!
//! ```ignore
//! protocols::rows! {
//!     /// One epoch of one group.
//!     pub struct CurveRow { pub epoch: i64, pub group: Group, pub reward: f64 }
//! }
//! let df = CurveRow::to_frame(&rows)?;          // columns epoch, group, reward
//! let back: Vec<CurveRow> = CurveRow::from_frame(&df)?;
//! ```
//!
//! Reading checks every column the struct names: a missing or misspelt column, or one of another
//! type, is an error that names it. Columns the struct does not name (a gathered table's `run_id`,
//! `seed` and grid axes) are left alone. Enums are stored as their serde names.

use anyhow::{Result, anyhow, bail};
use polars::prelude::*;

/// A value that can fill one cell of a table column.
pub trait Cell: Sized + Clone {
    /// A column called `name` holding `values`.
    fn column(name: &str, values: Vec<Self>) -> Column;
    /// The values of `column`, which must have this cell's type and no nulls.
    fn read(column: &Column) -> Result<Vec<Self>>;
}

fn no_nulls<T>(column: &Column, values: impl Iterator<Item = Option<T>>) -> Result<Vec<T>> {
    values
        .enumerate()
        .map(|(i, v)| v.ok_or_else(|| anyhow!("column {:?} has a null in row {i}", column.name())))
        .collect()
}

fn expect_dtype(column: &Column, want: &DataType, rust: &str) -> Result<()> {
    if column.dtype() != want {
        bail!(
            "column {:?} holds {}, not {rust}",
            column.name(),
            column.dtype()
        );
    }
    Ok(())
}

impl Cell for f64 {
    fn column(name: &str, values: Vec<Self>) -> Column {
        Column::new(name.into(), values)
    }
    fn read(column: &Column) -> Result<Vec<Self>> {
        expect_dtype(column, &DataType::Float64, "f64")?;
        no_nulls(column, column.f64()?.iter())
    }
}

impl Cell for i64 {
    fn column(name: &str, values: Vec<Self>) -> Column {
        Column::new(name.into(), values)
    }
    fn read(column: &Column) -> Result<Vec<Self>> {
        expect_dtype(column, &DataType::Int64, "i64")?;
        no_nulls(column, column.i64()?.iter())
    }
}

impl Cell for bool {
    fn column(name: &str, values: Vec<Self>) -> Column {
        Column::new(name.into(), values)
    }
    fn read(column: &Column) -> Result<Vec<Self>> {
        expect_dtype(column, &DataType::Boolean, "bool")?;
        no_nulls(column, column.bool()?.iter())
    }
}

impl Cell for String {
    fn column(name: &str, values: Vec<Self>) -> Column {
        Column::new(name.into(), values)
    }
    fn read(column: &Column) -> Result<Vec<Self>> {
        expect_dtype(column, &DataType::String, "a string")?;
        no_nulls(column, column.str()?.iter().map(|v| v.map(str::to_string)))
    }
}

/// Counts are stored as `i64` (Parquet and pandas have no unsigned default).
impl Cell for usize {
    fn column(name: &str, values: Vec<Self>) -> Column {
        Column::new(
            name.into(),
            values.into_iter().map(|v| v as i64).collect::<Vec<_>>(),
        )
    }
    fn read(column: &Column) -> Result<Vec<Self>> {
        i64::read(column)?
            .into_iter()
            .map(|v| {
                usize::try_from(v)
                    .map_err(|_| anyhow!("column {:?} holds {v}, not a count", column.name()))
            })
            .collect()
    }
}

/// An optional number: `None` is a null cell (e.g. "never reached 90%").
impl Cell for Option<i64> {
    fn column(name: &str, values: Vec<Self>) -> Column {
        Column::new(name.into(), values)
    }
    fn read(column: &Column) -> Result<Vec<Self>> {
        expect_dtype(column, &DataType::Int64, "i64")?;
        Ok(column.i64()?.iter().collect())
    }
}

/// An optional number: `None` is a null cell (e.g. "never fitted").
impl Cell for Option<f64> {
    fn column(name: &str, values: Vec<Self>) -> Column {
        Column::new(name.into(), values)
    }
    fn read(column: &Column) -> Result<Vec<Self>> {
        expect_dtype(column, &DataType::Float64, "f64")?;
        Ok(column.f64()?.iter().collect())
    }
}

/// Implements [`Cell`] for enums through their serde names (unit variants only).
#[macro_export]
macro_rules! serde_cells {
    ($($ty:ty),* $(,)?) => {$(
        impl $crate::rows::Cell for $ty {
            fn column(name: &str, values: Vec<Self>) -> polars::prelude::Column {
                let names: Vec<&str> = values.iter().map($crate::rows::serde_name).collect();
                polars::prelude::Column::new(name.into(), names)
            }
            fn read(column: &polars::prelude::Column) -> anyhow::Result<Vec<Self>> {
                <String as $crate::rows::Cell>::read(column)?
                    .into_iter()
                    .map(|s| $crate::rows::from_serde_name(column.name(), &s))
                    .collect()
            }
        }
    )*};
}

/// The serde name of a unit enum variant (the trainers' helper, so names are spelt once).
pub use trainers::names::serde_name;

/// The variant called `name` (its serde name), or an error naming the column and the value.
pub fn from_serde_name<T: serde::de::DeserializeOwned>(column: &str, name: &str) -> Result<T> {
    trainers::names::parse_serde_name(name).map_err(|e| anyhow!("column {column:?}: {e}"))
}

/// The column called `name`, or an error listing the columns there are.
pub fn column<'a>(df: &'a DataFrame, name: &str) -> Result<&'a Column> {
    df.column(name).map_err(|_| {
        anyhow!(
            "the table has no column {name:?} (columns: {})",
            df.get_column_names()
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// A table whose rows are `Self`.
pub trait Rows: Sized {
    /// The rows as a frame, one column per field, in field order.
    fn to_frame(rows: &[Self]) -> Result<DataFrame>;
    /// The rows of a frame that has (at least) a column per field, of the field's type.
    fn from_frame(df: &DataFrame) -> Result<Vec<Self>>;
}

/// Declares a row struct and implements [`Rows`] for it (see the [module docs](self)).
#[macro_export]
macro_rules! rows {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name { $( $(#[$fmeta])* pub $field: $ty, )* }

        $crate::impl_rows!($name { $( $field: $ty ),* });
    };
}

/// Implements [`Rows`] for an existing struct whose fields are all [`Cell`]s, naming them as
/// `impl_rows!(GroupMetrics { epoch: usize, group: Group, ... })` (every field, in column order).
#[macro_export]
macro_rules! impl_rows {
    ($name:ty { $( $field:ident : $ty:ty ),* $(,)? }) => {
        impl $crate::rows::Rows for $name {
            fn to_frame(rows: &[Self]) -> anyhow::Result<polars::prelude::DataFrame> {
                let columns = vec![$(
                    <$ty as $crate::rows::Cell>::column(
                        stringify!($field),
                        rows.iter().map(|r| r.$field.clone()).collect(),
                    ),
                )*];
                Ok(polars::prelude::DataFrame::new(rows.len(), columns)?)
            }

            fn from_frame(df: &polars::prelude::DataFrame) -> anyhow::Result<Vec<Self>> {
                use anyhow::Context as _;
                $(
                    let $field = <$ty as $crate::rows::Cell>::read(
                        $crate::rows::column(df, stringify!($field))?,
                    )
                    .with_context(|| format!("reading {} rows", stringify!($name)))?;
                )*
                Ok((0..df.height())
                    .map(|i| Self { $( $field: $field[i].clone(), )* })
                    .collect())
            }
        }
    };
}

/// A row of a gathered table (the rows of every run of a sweep), with the run it came from: the
/// store adds `run_id` and `seed` columns when it gathers.
#[derive(Debug, Clone, PartialEq)]
pub struct Gathered<T> {
    pub run_id: String,
    pub seed: u64,
    pub row: T,
}

/// The rows of a gathered table with their runs.
pub fn gathered<T: Rows>(df: &DataFrame) -> Result<Vec<Gathered<T>>> {
    let rows = T::from_frame(df)?;
    let ids = String::read(column(df, "run_id")?)?;
    let seeds = i64::read(column(df, "seed")?)?;
    Ok(rows
        .into_iter()
        .zip(ids)
        .zip(seeds)
        .map(|((row, run_id), seed)| Gathered {
            run_id,
            seed: seed as u64,
            row,
        })
        .collect())
}

/// Write `df` as Parquet at `path`, atomically.
pub fn write_parquet(path: &std::path::Path, df: &mut DataFrame) -> Result<()> {
    atomicwrite::write_with(path, |tmp| -> Result<()> {
        let file = std::fs::File::create(tmp)?;
        ParquetWriter::new(file).finish(df)?;
        Ok(())
    })
    .map_err(|e| anyhow!("cannot write {}: {e:#}", path.display()))
}

/// Write `df` as CSV at `path`, atomically.
pub fn write_csv(path: &std::path::Path, df: &mut DataFrame) -> Result<()> {
    atomicwrite::write_with(path, |tmp| -> Result<()> {
        let mut file = std::fs::File::create(tmp)?;
        CsvWriter::new(&mut file).finish(df)?;
        Ok(())
    })
    .map_err(|e| anyhow!("cannot write {}: {e:#}", path.display()))
}

/// Read the Parquet file at `path`.
pub fn read_parquet(path: &std::path::Path) -> Result<DataFrame> {
    let file =
        std::fs::File::open(path).map_err(|e| anyhow!("cannot open {}: {e}", path.display()))?;
    ParquetReader::new(file)
        .finish()
        .map_err(|e| anyhow!("{} is not a readable Parquet file: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Method {
        Rft,
        SftThenRft,
    }
    serde_cells!(Method);

    rows! {
        /// A row of every cell type.
        pub struct Row {
            pub method: Method,
            pub epoch: usize,
            pub reward: f64,
            pub fit90: Option<i64>,
            pub cached: bool,
            pub label: String,
        }
    }

    fn rows() -> Vec<Row> {
        vec![
            Row {
                method: Method::Rft,
                epoch: 3,
                reward: f64::NAN,
                fit90: None,
                cached: true,
                label: "a".into(),
            },
            Row {
                method: Method::SftThenRft,
                epoch: 0,
                reward: -0.1 - 0.2,
                fit90: Some(276),
                cached: false,
                label: "b, c".into(),
            },
        ]
    }

    #[test]
    fn rows_round_trip_through_a_frame_bit_for_bit() {
        let df = Row::to_frame(&rows()).unwrap();
        assert_eq!(
            df.get_column_names()
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>(),
            ["method", "epoch", "reward", "fit90", "cached", "label"]
        );
        assert_eq!(
            df.column("method").unwrap().str().unwrap().get(1),
            Some("sft_then_rft")
        );
        let back = Row::from_frame(&df).unwrap();
        assert!(back[0].reward.is_nan());
        assert_eq!(back[1].reward.to_bits(), (-0.1f64 - 0.2).to_bits());
        assert_eq!(back[1..], rows()[1..]);
        assert_eq!((back[0].method, back[0].fit90), (Method::Rft, None));
    }

    #[test]
    fn extra_columns_are_ignored_and_a_missing_one_is_named() {
        let mut df = Row::to_frame(&rows()).unwrap();
        df.with_column(Column::new("seed".into(), vec![1i64, 2]))
            .unwrap();
        assert_eq!(Row::from_frame(&df).unwrap().len(), 2);
        let df = df.drop("reward").unwrap();
        let err = Row::from_frame(&df).unwrap_err().to_string();
        assert!(err.contains("no column \"reward\""), "{err}");
    }

    #[test]
    fn a_column_of_the_wrong_type_or_an_unknown_variant_is_an_error() {
        let mut df = Row::to_frame(&rows()).unwrap();
        df.with_column(Column::new("reward".into(), vec!["x", "y"]))
            .unwrap();
        let err = format!("{:#}", Row::from_frame(&df).unwrap_err());
        assert!(err.contains("\"reward\" holds str, not f64"), "{err}");
        let mut df = Row::to_frame(&rows()).unwrap();
        df.with_column(Column::new("method".into(), vec!["rft", "ppo"]))
            .unwrap();
        let err = format!("{:#}", Row::from_frame(&df).unwrap_err());
        assert!(err.contains("unknown variant `ppo`"), "{err}");
    }
}
