//! The names of config enum variants, taken from their serde names.
//!
//! Sweep files, result tables, plots and logs all spell a variant the way serde does
//! (`#[serde(rename_all = "snake_case")]`), so the name is read from serde itself rather than
//! written out a second time: [`serde_name`] runs a value's `Serialize` implementation through a
//! serializer that only records the variant name serde passes it (a `&'static str`, so nothing is
//! allocated), and [`parse_serde_name`] runs `Deserialize` on the bare name. The
//! [`serde_names!`](crate::serde_names) macro gives an enum `name()`, `parse()` and `Display`.

use serde::de::value::{Error, StrDeserializer};
use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::ser::{self, Impossible, Serialize};

/// The serde name of `value`'s variant: what `serde_json` writes for a unit variant, or the key
/// of a variant with data (`warmup_linear` for `Schedule::WarmupLinear { .. }`).
///
/// # Panics
///
/// If `value` does not serialise as an enum variant; every type this is used on is covered by a
/// test that calls it on each variant.
pub fn serde_name<T: Serialize + ?Sized>(value: &T) -> &'static str {
    match value.serialize(VariantName) {
        Ok(name) => name,
        Err(e) => panic!(
            "serde_name: a {} is not an enum variant ({e})",
            std::any::type_name::<T>()
        ),
    }
}

/// The unit variant of `T` whose serde name is `name`. The error is serde's, which lists the
/// known names (``unknown variant `adamw`, expected `adam` or `sgd` ``).
pub fn parse_serde_name<T: DeserializeOwned>(name: &str) -> Result<T, crate::TrainError> {
    let de: StrDeserializer<'_, Error> = name.into_deserializer();
    T::deserialize(de).map_err(|e| crate::TrainError::Config(e.to_string()))
}

/// Gives each listed enum `name(&self) -> &'static str` (its variant's serde name, via
/// [`serde_name`]), `parse(&str)` (the reverse, via [`parse_serde_name`]) and a `Display` that
/// writes the name. For enums whose variants all are unit variants; an enum with data variants
/// can still call [`serde_name`] for its `name()`.
#[macro_export]
macro_rules! serde_names {
    ($($ty:ty),+ $(,)?) => {$(
        impl $ty {
            /// The variant's serde name, as sweep files and result tables spell it.
            pub fn name(&self) -> &'static str {
                $crate::names::serde_name(self)
            }

            /// The variant whose serde name is `name`.
            pub fn parse(name: &str) -> ::std::result::Result<Self, $crate::TrainError> {
                $crate::names::parse_serde_name(name)
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }
    )+};
}

/// A config enum's `parse`, as [`assert_serde_names`] takes it.
#[cfg(test)]
pub(crate) type Parse<T> = fn(&str) -> Result<T, crate::TrainError>;

/// Checks, for every `(variant, name)` of an enum, that `name()` is `name`, that `serde_json`
/// and `serde_yaml` write exactly `name` and read it back as the variant, and that `parse(name)`
/// is the variant. `name()` and `parse` are passed in so that enums with data variants (no
/// `parse`) can be checked as far as they go.
#[cfg(test)]
pub(crate) fn assert_serde_names<T>(
    cases: &[(T, &str)],
    name: impl Fn(&T) -> &'static str,
    parse: Option<Parse<T>>,
) where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    for (variant, expected) in cases {
        assert_eq!(name(variant), *expected, "name() of {variant:?}");
        let json = serde_json::to_value(variant).unwrap();
        let key = match &json {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Object(map) if map.len() == 1 => map.keys().next().unwrap().clone(),
            other => panic!("{variant:?} serialises as {other}, not as a variant"),
        };
        assert_eq!(key, *expected, "serde_json name of {variant:?}");
        assert_eq!(&serde_json::from_value::<T>(json).unwrap(), variant);
        let yaml = serde_yaml::to_string(variant).unwrap();
        assert_eq!(&serde_yaml::from_str::<T>(&yaml).unwrap(), variant);
        if let Some(parse) = parse {
            assert_eq!(&parse(expected).unwrap(), variant, "parse({expected:?})");
        }
    }
    if let Some(parse) = parse {
        let err = parse("no_such_variant").unwrap_err().to_string();
        for (_, expected) in cases {
            assert!(err.contains(expected), "{err:?} does not list {expected:?}");
        }
    }
}

/// A serializer that accepts only enum variants and returns the variant name serde gives it.
struct VariantName;

/// Ignores a data variant's fields and ends with its name.
struct VariantFields(&'static str);

fn not_a_variant<T>(what: &str) -> Result<T, Error> {
    Err(ser::Error::custom(format!("serialises as {what}")))
}

impl ser::Serializer for VariantName {
    type Ok = &'static str;
    type Error = Error;
    type SerializeSeq = Impossible<&'static str, Error>;
    type SerializeTuple = Impossible<&'static str, Error>;
    type SerializeTupleStruct = Impossible<&'static str, Error>;
    type SerializeTupleVariant = VariantFields;
    type SerializeMap = Impossible<&'static str, Error>;
    type SerializeStruct = Impossible<&'static str, Error>;
    type SerializeStructVariant = VariantFields;

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<&'static str, Error> {
        Ok(variant)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _value: &T,
    ) -> Result<&'static str, Error> {
        Ok(variant)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<VariantFields, Error> {
        Ok(VariantFields(variant))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<VariantFields, Error> {
        Ok(VariantFields(variant))
    }

    fn serialize_bool(self, _: bool) -> Result<&'static str, Error> {
        not_a_variant("a bool")
    }
    fn serialize_i8(self, _: i8) -> Result<&'static str, Error> {
        not_a_variant("a number")
    }
    fn serialize_i16(self, _: i16) -> Result<&'static str, Error> {
        not_a_variant("a number")
    }
    fn serialize_i32(self, _: i32) -> Result<&'static str, Error> {
        not_a_variant("a number")
    }
    fn serialize_i64(self, _: i64) -> Result<&'static str, Error> {
        not_a_variant("a number")
    }
    fn serialize_u8(self, _: u8) -> Result<&'static str, Error> {
        not_a_variant("a number")
    }
    fn serialize_u16(self, _: u16) -> Result<&'static str, Error> {
        not_a_variant("a number")
    }
    fn serialize_u32(self, _: u32) -> Result<&'static str, Error> {
        not_a_variant("a number")
    }
    fn serialize_u64(self, _: u64) -> Result<&'static str, Error> {
        not_a_variant("a number")
    }
    fn serialize_f32(self, _: f32) -> Result<&'static str, Error> {
        not_a_variant("a number")
    }
    fn serialize_f64(self, _: f64) -> Result<&'static str, Error> {
        not_a_variant("a number")
    }
    fn serialize_char(self, _: char) -> Result<&'static str, Error> {
        not_a_variant("a char")
    }
    fn serialize_str(self, _: &str) -> Result<&'static str, Error> {
        not_a_variant("a string")
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<&'static str, Error> {
        not_a_variant("bytes")
    }
    fn serialize_none(self) -> Result<&'static str, Error> {
        not_a_variant("an option")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<&'static str, Error> {
        not_a_variant("an option")
    }
    fn serialize_unit(self) -> Result<&'static str, Error> {
        not_a_variant("a unit")
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<&'static str, Error> {
        not_a_variant("a unit struct")
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<&'static str, Error> {
        not_a_variant("a newtype struct")
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        not_a_variant("a sequence")
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        not_a_variant("a tuple")
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        not_a_variant("a tuple struct")
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        not_a_variant("a map")
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        not_a_variant("a struct")
    }
}

impl ser::SerializeStructVariant for VariantFields {
    type Ok = &'static str;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _key: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Ok(())
    }
    fn end(self) -> Result<&'static str, Error> {
        Ok(self.0)
    }
}

impl ser::SerializeTupleVariant for VariantFields {
    type Ok = &'static str;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, _value: &T) -> Result<(), Error> {
        Ok(())
    }
    fn end(self) -> Result<&'static str, Error> {
        Ok(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Example {
        PlainUnit,
        #[serde(rename = "renamed-by-hand")]
        Renamed,
        Newtype(u32),
        Pair(u8, u8),
        WithFields {
            a: f64,
        },
    }

    #[test]
    fn every_kind_of_variant_is_named_as_serde_writes_it() {
        assert_serde_names(
            &[
                (Example::PlainUnit, "plain_unit"),
                (Example::Renamed, "renamed-by-hand"),
                (Example::Newtype(3), "newtype"),
                (Example::Pair(1, 2), "pair"),
                (Example::WithFields { a: 0.5 }, "with_fields"),
            ],
            serde_name,
            None,
        );
    }

    #[test]
    fn parsing_an_unknown_name_is_a_config_error_that_lists_the_known_names() {
        let err = parse_serde_name::<crate::optim::OptimizerKind>("adamw").unwrap_err();
        assert!(matches!(err, crate::TrainError::Config(_)), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("adamw") && msg.contains("`adam`") && msg.contains("`sgd`"),
            "{msg}"
        );
    }

    #[test]
    #[should_panic(expected = "is not an enum variant")]
    fn a_value_that_is_not_a_variant_has_no_serde_name() {
        serde_name(&42u32);
    }
}
