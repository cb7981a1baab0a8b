//! The validation rules of this module as JSON Schema, for the OpenAPI document. Each function
//! is the schema of one kind of field, named in `#[schema(schema_with = ...)]`, so that what the
//! document accepts is what the server accepts. Texts are counted in characters, as the server
//! counts them after trimming and collapsing runs of spaces.

use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, SchemaType, Type};
use utoipa::openapi::{Array, Object, Schema};

/// One character that survives cleaning: not whitespace, not a control or an invisible
/// formatting character (`vn::clean_text`). A required text contains at least one.
const VISIBLE: &str = "[^\\s\\x00-\\x1f\\x7f-\\x9f\\u00ad\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890\\u0891\\u08e2\
                       \\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb]";

/// A Vietnamese mobile number as `vn::normalize_phone` reads it: `0`, `84` or `+84`, then a
/// mobile prefix (3, 5, 7, 8 or 9) and eight more digits, each optionally after one space, dot
/// or dash; blanks around it are ignored.
const PHONE: &str = "^[ ]*(\\+84|84|0)[ .-]?[35789]([ .-]?[0-9]){8}[ ]*$";

fn string(nullable: bool) -> ObjectBuilder {
    let kind = if nullable { SchemaType::from_iter([Type::String, Type::Null]) } else { Type::String.into() };
    ObjectBuilder::new().schema_type(kind)
}

fn visible_text(nullable: bool, max: usize) -> ObjectBuilder {
    string(nullable).min_length(Some(1)).max_length(Some(max)).pattern(Some(VISIBLE))
}

/// A required text of 1 to `MAX` characters, not blank.
pub fn text<const MAX: usize>() -> Object {
    visible_text(false, MAX).description(Some(format!("1 to {MAX} characters, not blank"))).build()
}

/// A text that may change (PATCH): absent or null leaves it, otherwise 1 to `MAX` characters,
/// not blank.
pub fn new_text<const MAX: usize>() -> Object {
    let description = format!("Absent or null leaves it; otherwise 1 to {MAX} characters, not blank");
    visible_text(true, MAX).description(Some(description)).build()
}

/// An optional text of at most `MAX` characters; blank is the same as absent.
pub fn optional_text<const MAX: usize>() -> Object {
    string(true).max_length(Some(MAX)).description(Some(format!("At most {MAX} characters"))).build()
}

/// A required Vietnamese mobile number, like `0912 345 678` or `+84 912 345 678`; answered as 10
/// digits.
pub fn phone() -> Object {
    string(false)
        .pattern(Some(PHONE))
        .description(Some("A Vietnamese mobile number, like `0912 345 678` or `+84 912 345 678`; stored as 10 digits"))
        .examples(["0912 345 678"])
        .build()
}

/// An optional Vietnamese mobile number; blank is the same as absent.
pub fn optional_phone() -> Object {
    let pattern = format!("^[ ]*$|{PHONE}");
    string(true)
        .pattern(Some(pattern))
        .description(Some(
            "A Vietnamese mobile number, like `0912 345 678` or `+84 912 345 678`; stored as 10 digits; blank is \
             the same as absent",
        ))
        .examples(["0912 345 678"])
        .build()
}

/// An e-mail address: one `@`, at most 64 characters before it, a dotted domain after it;
/// compared without case.
pub fn email() -> Object {
    string(false)
        .max_length(Some(254))
        .pattern(Some("^[!-?A-~]{1,64}@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+$"))
        .description(Some("An e-mail address, compared without case"))
        .examples(["thuha@example.vn"])
        .build()
}

/// A new password: 8 to 128 characters.
pub fn password() -> Object {
    string(false).min_length(Some(8)).max_length(Some(128)).description(Some("8 to 128 characters")).build()
}

/// Up to 10 picture links, each an http(s) URL or a path of this server, at most 500
/// characters, without spaces, quotes or angle brackets.
pub fn images() -> Array {
    let url = string(false).max_length(Some(500)).pattern(Some("^(https?://|/)[!#-;=?-~]*$"));
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(url)
        .max_items(Some(10))
        .description(Some(
            "Up to 10 picture links, each an http(s) URL or a path of this server, at most 500 characters, \
             without spaces, quotes or angle brackets",
        ))
        .build()
}

/// A link without spaces, quotes or angle brackets, as the characters of a stream's url.
const LINK_CHARS: &str = "[!#-;=?-~]";

/// A show's stream: `kind` decides what `url` must be. Absent or null is no stream.
pub fn stream() -> Schema {
    let host_link = |hosts: &str| format!("^https?://([A-Za-z0-9-]+\\.)*({hosts})(:[0-9]*)?([/?#]{LINK_CHARS}*)?$");
    let variants = [
        ("none", "^[ \\t\\r\\n]*$".to_owned(), "No video: no url, or a blank one"),
        ("hls", format!("^https?://[!#-;=@-~]*\\.m3u8(\\?{LINK_CHARS}*)?$"), "An http(s) URL of a `.m3u8` playlist"),
        ("youtube", host_link("youtube\\.com|youtu\\.be"), "A link on youtube.com or youtu.be"),
        ("facebook", host_link("facebook\\.com|fb\\.watch"), "A link on facebook.com or fb.watch"),
    ];
    let mut one_of = OneOfBuilder::new().item(ObjectBuilder::new().schema_type(Type::Null));
    for (kind, pattern, description) in variants {
        let kind_schema = string(false).enum_values(Some([kind]));
        let url = if kind == "none" { string(true) } else { string(false).max_length(Some(500)) };
        let mut variant = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(description))
            .property("kind", kind_schema)
            .required("kind")
            .property("url", url.pattern(Some(pattern)))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        if kind != "none" {
            variant = variant.required("url");
        }
        one_of = one_of.item(variant);
    }
    Schema::OneOf(one_of.build())
}
