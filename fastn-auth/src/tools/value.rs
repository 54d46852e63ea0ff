//! The values of generated tool inputs: [`ToolValue`] writes one as the JSON its schema
//! declares, [`FromToolValue`] reads it back, and [`serialize`] / [`deserialize`] give
//! generated types serde's traits over them — one generic implementation instead of a
//! serde derive per tool (far less code to compile).

use serde_json::{Map, Value};

/// A value of a generated tool input as the JSON its schema declares. Generated types
/// implement it (instead of a serde derive: far less code to compile per tool); so do the
/// types their fields have.
pub trait ToolValue {
    /// The JSON of this value.
    fn to_value(&self) -> Value;

    /// The JSON of this value as an object's field: `None` leaves the field out (an
    /// optional field that is `None`).
    fn to_field(&self) -> Option<Value> {
        Some(self.to_value())
    }
}

impl ToolValue for String {
    fn to_value(&self) -> Value {
        Value::String(self.clone())
    }
}

impl ToolValue for i64 {
    fn to_value(&self) -> Value {
        Value::from(*self)
    }
}

/// A number that is not finite is `null`, as JSON has no such number.
impl ToolValue for f64 {
    fn to_value(&self) -> Value {
        Value::from(*self)
    }
}

impl ToolValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl ToolValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl ToolValue for Map<String, Value> {
    fn to_value(&self) -> Value {
        Value::Object(self.clone())
    }
}

impl<T: ToolValue> ToolValue for Vec<T> {
    fn to_value(&self) -> Value {
        Value::Array(self.iter().map(ToolValue::to_value).collect())
    }
}

/// `None` is `null` as a value, and left out as a field.
impl<T: ToolValue> ToolValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToolValue::to_value)
    }

    fn to_field(&self) -> Option<Value> {
        self.as_ref().map(ToolValue::to_value)
    }
}

/// The JSON object of `fields` (wire name, value), those whose [`ToolValue::to_field`] is
/// `None` left out: what a generated struct's `to_value` is.
pub fn object(fields: &[(&str, &dyn ToolValue)]) -> Value {
    let fields = fields.iter().filter_map(|(name, value)| Some(((*name).to_owned(), value.to_field()?)));
    Value::Object(fields.collect())
}

/// As [`object`], with `rest` — the fields a generated output type does not name, kept as
/// they came — added where `fields` has no field of their name.
pub fn object_with(fields: &[(&str, &dyn ToolValue)], rest: &Map<String, Value>) -> Value {
    let mut value = object(fields);
    if let Value::Object(map) = &mut value {
        for (name, field) in rest {
            map.entry(name.clone()).or_insert_with(|| field.clone());
        }
    }
    value
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

/// The fields of a JSON object, taken one by one as a generated struct reads itself.
#[derive(Debug)]
pub struct Fields(Map<String, Value>);

impl Fields {
    /// The fields of `value`.
    ///
    /// # Errors
    /// [`ValueError`] when `value` is not an object.
    pub fn of(value: Value) -> Result<Fields, ValueError> {
        Map::from_value(value).map(Fields)
    }

    /// Field `name` (its wire name) as `T`.
    ///
    /// # Errors
    /// [`ValueError`] under the field's pointer.
    pub fn take<T: FromToolValue>(&mut self, name: &str) -> Result<T, ValueError> {
        T::from_field(self.0.remove(name)).map_err(|err| err.under(name))
    }

    /// The fields not taken, as they came (what a generated output type keeps).
    pub fn rest(self) -> Map<String, Value> {
        self.0
    }
}

/// serde's `Serialize` of a generated type: its [`ToolValue`] JSON.
///
/// # Errors
/// The serializer's.
pub fn serialize<T: ToolValue, S: serde::Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&value.to_value(), serializer)
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
