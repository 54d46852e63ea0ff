//! The values of generated tool types: [`write`](fn@write) is their `Serialize` (the JSON object their
//! schema declares), [`read`](fn@read) their [`FromToolValue`] (reading it back with a pointer to
//! what does not fit), and [`deserialize`] their `Deserialize` over it — generic bodies the
//! generated impls call, instead of a serde derive per type (far less code to compile).

use serde::Serialize;
use serde_json::{Map, Value};

/// A field of a generated type, as JSON: any `Serialize` value, behind one object-safe
/// trait so that a generated type lists its fields in one slice (see [`write`](fn@write)).
pub trait Field {
    /// The field's JSON.
    ///
    /// # Errors
    /// serde_json's, when the value does not serialize as JSON.
    fn to_json(&self) -> Result<Value, serde_json::Error>;
}

impl<T: Serialize + ?Sized> Field for T {
    fn to_json(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}

/// An optional field of a generated type: `None` is left out of the object, not `null`.
pub trait OptionalField {
    /// The field's JSON, or `None` when it is unset.
    ///
    /// # Errors
    /// serde_json's, when the value does not serialize as JSON.
    fn to_json_if_set(&self) -> Option<Result<Value, serde_json::Error>>;
}

impl<T: Serialize> OptionalField for Option<T> {
    fn to_json_if_set(&self) -> Option<Result<Value, serde_json::Error>> {
        self.as_ref().map(serde_json::to_value)
    }
}

/// serde's `Serialize` of a generated struct: the JSON object of its `required` and
/// `optional` fields (wire name, value; unset optional ones left out), then the fields of
/// `rest` — what a generated output type keeps unnamed — where no field has their name.
/// One generic body for every generated type: each type's own impl is this one call.
///
/// # Errors
/// The serializer's, or serde_json's for a field that does not serialize.
pub fn write<S: serde::Serializer>(
    serializer: S,
    required: &[(&str, &dyn Field)],
    optional: &[(&str, &dyn OptionalField)],
    rest: Option<&Map<String, Value>>,
) -> Result<S::Ok, S::Error> {
    object(required, optional, rest).map_err(serde::ser::Error::custom)?.serialize(serializer)
}

fn object(
    required: &[(&str, &dyn Field)],
    optional: &[(&str, &dyn OptionalField)],
    rest: Option<&Map<String, Value>>,
) -> Result<Value, serde_json::Error> {
    let mut map = Map::new();
    for (name, field) in required {
        map.insert((*name).to_owned(), field.to_json()?);
    }
    for (name, field) in optional {
        if let Some(value) = field.to_json_if_set() {
            map.insert((*name).to_owned(), value?);
        }
    }
    for (name, value) in rest.into_iter().flatten() {
        map.entry(name.clone()).or_insert_with(|| value.clone());
    }
    Ok(Value::Object(map))
}

/// Why a value does not read as a generated type: where (a JSON pointer) and what was
/// expected; never the value itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    pointer: String,
    expected: String,
}

impl ValueError {
    /// A value that is not `expected`.
    pub fn expected(expected: impl Into<String>) -> Self {
        ValueError { pointer: String::new(), expected: expected.into() }
    }

    /// The same error, under field `name` of an object.
    fn under(mut self, name: &str) -> Self {
        let escaped = name.replace('~', "~0").replace('/', "~1");
        self.pointer = format!("/{}{}", escaped.chars().take(64).collect::<String>(), self.pointer);
        self
    }
}

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() { "the value" } else { self.pointer.as_str() };
        write!(f, "{at}: expected {}", self.expected)
    }
}

impl std::error::Error for ValueError {}

/// A generated tool value read back from the JSON its schema declares (what a handler
/// taking `Json<SlackSendMessage>` reads). Unknown fields are ignored.
pub trait FromToolValue: Sized {
    /// The value `value` holds.
    ///
    /// # Errors
    /// [`ValueError`] saying where and what was expected.
    fn from_value(value: Value) -> Result<Self, ValueError>;

    /// As an object's field: `None` when the field is absent (an error but for an
    /// `Option`).
    ///
    /// # Errors
    /// [`ValueError`] for an absent required field or a value of another type.
    fn from_field(value: Option<Value>) -> Result<Self, ValueError> {
        match value {
            Some(value) => Self::from_value(value),
            None => Err(ValueError::expected("a value (the field is required)")),
        }
    }
}

impl FromToolValue for String {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        match value {
            Value::String(text) => Ok(text),
            _ => Err(ValueError::expected("a string")),
        }
    }
}

impl FromToolValue for i64 {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        value.as_i64().ok_or_else(|| ValueError::expected("an integer"))
    }
}

impl FromToolValue for f64 {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        value.as_f64().ok_or_else(|| ValueError::expected("a number"))
    }
}

impl FromToolValue for bool {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        value.as_bool().ok_or_else(|| ValueError::expected("true or false"))
    }
}

impl FromToolValue for Value {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        Ok(value)
    }
}

impl FromToolValue for Map<String, Value> {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        match value {
            Value::Object(map) => Ok(map),
            _ => Err(ValueError::expected("an object")),
        }
    }
}

impl<T: FromToolValue> FromToolValue for Vec<T> {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        let Value::Array(items) = value else { return Err(ValueError::expected("an array")) };
        items
            .into_iter()
            .enumerate()
            .map(|(index, item)| T::from_value(item).map_err(|err| err.under(&index.to_string())))
            .collect()
    }
}

/// `null` is `None`, and so is an absent field.
impl<T: FromToolValue> FromToolValue for Option<T> {
    fn from_value(value: Value) -> Result<Self, ValueError> {
        match value {
            Value::Null => Ok(None),
            value => T::from_value(value).map(Some),
        }
    }

    fn from_field(value: Option<Value>) -> Result<Self, ValueError> {
        value.map_or(Ok(None), Self::from_value)
    }
}

/// The fields of a generated struct, read from a JSON object as a tuple — the struct's
/// fields in the order [`read`](fn@read) is given their wire names (nested tuples of at most 12 for
/// longer structs). A field is any [`FromToolValue`].
pub trait TakeFields: Sized {
    /// The fields named by the next wire names of `names`, taken out of `map`.
    ///
    /// # Errors
    /// [`ValueError`] under the first field that does not read.
    fn take_fields(
        map: &mut Map<String, Value>,
        names: &mut std::slice::Iter<'_, &str>,
    ) -> Result<Self, ValueError>;
}

impl<T: FromToolValue> TakeFields for T {
    fn take_fields(
        map: &mut Map<String, Value>,
        names: &mut std::slice::Iter<'_, &str>,
    ) -> Result<Self, ValueError> {
        // Generated code gives as many names as fields; fewer is a bug of the generator.
        let name = names.next().ok_or_else(|| ValueError::expected("as many wire names as fields"))?;
        T::from_field(map.remove(*name)).map_err(|err| err.under(name))
    }
}

/// `TakeFields` for tuples of up to 12 elements.
macro_rules! take_tuples {
    ($($name:ident)*) => {
        impl<$($name: TakeFields),*> TakeFields for ($($name,)*) {
            #[allow(unused_variables)]
            fn take_fields(
                map: &mut Map<String, Value>,
                names: &mut std::slice::Iter<'_, &str>,
            ) -> Result<Self, ValueError> {
                Ok(($($name::take_fields(map, names)?,)*))
            }
        }
    };
}

take_tuples!();
take_tuples!(A);
take_tuples!(A B);
take_tuples!(A B C);
take_tuples!(A B C D);
take_tuples!(A B C D E);
take_tuples!(A B C D E F);
take_tuples!(A B C D E F G);
take_tuples!(A B C D E F G H);
take_tuples!(A B C D E F G H I);
take_tuples!(A B C D E F G H I J);
take_tuples!(A B C D E F G H I J K);
take_tuples!(A B C D E F G H I J K L);

/// [`FromToolValue`] of a generated struct: `value` must be an object; its fields named
/// `names` (wire names) are read as `F`, and `build` makes the struct of them and of the
/// fields left (what a generated output type keeps). One generic body for every generated
/// type: each type's own impl is this one call.
///
/// # Errors
/// [`ValueError`] when `value` is not an object, or under the first field that does not read.
pub fn read<F: TakeFields, R>(
    value: Value,
    names: &[&str],
    build: impl FnOnce(F, Map<String, Value>) -> R,
) -> Result<R, ValueError> {
    let mut map = Map::from_value(value)?;
    let fields = F::take_fields(&mut map, &mut names.iter())?;
    Ok(build(fields, map))
}

/// serde's `Deserialize` of a generated type: any JSON read as [`FromToolValue`].
///
/// # Errors
/// The deserializer's, or [`ValueError`]'s text.
pub fn deserialize<'de, T: FromToolValue, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    let value: Value = serde::Deserialize::deserialize(deserializer)?;
    T::from_value(value).map_err(serde::de::Error::custom)
}
