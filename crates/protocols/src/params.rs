//! `sweep_params!`: one definition of an experiment's parameters gives three types: the parameters
//! themselves, their grid (each field may list values; a sweep runs the cartesian product) and a
//! patch (some fields fixed, e.g. by a profile). All reject unknown keys, so a misspelt key in a
//! sweep file is an error with its line and column.

/// See the [module docs](self).
#[macro_export]
macro_rules! sweep_params {
    (
        $(#[$meta:meta])*
        pub struct $name:ident / $grid:ident / $patch:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name { $( $(#[$fmeta])* pub $field: $ty, )* }

        #[doc = concat!("List-valued fields of [`", stringify!($name), "`]: the sweep runs their cartesian product.")]
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $grid {
            $( #[serde(default, skip_serializing_if = "Option::is_none")] pub $field: Option<Vec<$ty>>, )*
        }

        #[doc = concat!("Fixed values of some fields of [`", stringify!($name), "`].")]
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $patch {
            $( #[serde(default, skip_serializing_if = "Option::is_none")] pub $field: Option<$ty>, )*
        }
    };
}
