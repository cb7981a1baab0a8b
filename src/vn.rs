//! Vietnamese text utilities: search keys, phone numbers, chat text cleaning and word filtering.
//!
//! Everything here is a pure function over `&str`:
//! - [`fold`] and [`matches_query`]: accent-insensitive search ("mat ong" finds "Mật ong").
//! - [`normalize_phone`] and [`mask_phones`]: Vietnamese mobile numbers, for forms and chat privacy.
//! - [`clean_text`]: strips control and invisible characters from chat and free-text fields.
//! - [`WordFilter`]: blocks banned words and phrases, whatever their accents or case.

use std::fmt;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Zero width joiner, kept by [`clean_text`] only inside emoji sequences.
const ZWJ: char = '\u{200D}';

/// Variation selector 16, which asks for the emoji presentation of the previous character.
const EMOJI_PRESENTATION: char = '\u{FE0F}';

/// How [`mask_phones`] hides a number after its first three digits.
const PHONE_MASK: &str = "*******";

/// Builds the search key of `text`: the text without accents, case or punctuation.
///
/// The text is decomposed (NFD), combining marks are dropped (so "ậ" becomes "a"), `đ` and `Đ`
/// become `d`, everything is lowercased, invisible format characters such as U+200B are dropped,
/// and every run of other characters that are not letters or digits (spaces, punctuation,
/// symbols, emoji) becomes a single space. The result has no leading or trailing space.
///
/// Text in NFC and in NFD form gives the same key, and folding a key again changes nothing.
///
/// ```
/// # use ocop_live::vn::fold;
/// assert_eq!(fold("Đặc sản Hà Giang!!"), "dac san ha giang");
/// assert_eq!(fold("NƯỚC MẮM Phú Quốc 40°N"), "nuoc mam phu quoc 40 n");
/// ```
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for ch in text.nfd() {
        if is_mark(ch) || is_format_char(ch) {
            continue;
        }
        let ch = match ch {
            'đ' | 'Đ' => 'd',
            other => other,
        };
        // Lowercasing may itself produce a combining mark ("İ" gives "i" and U+0307).
        for lower in ch.to_lowercase().filter(|c| !is_mark(*c)) {
            if lower.is_alphanumeric() {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push(lower);
            } else {
                pending_space = true;
            }
        }
    }
    out
}

/// Tells whether `query` matches a search key built by [`fold`].
///
/// The query is folded too, and every one of its words must be the beginning of some word of
/// `haystack_folded`: "mat ong" and "tra shan" match the keys of "Mật ong" and "Trà Shan tuyết",
/// while "ng" does not match "ong". A query with no words (empty, spaces or punctuation only)
/// matches everything.
///
/// `haystack_folded` must already be the output of [`fold`], so that a catalogue folds each
/// product name once rather than once per search.
pub fn matches_query(haystack_folded: &str, query: &str) -> bool {
    let query = fold(query);
    query.split_whitespace().all(|q| haystack_folded.split_whitespace().any(|word| word.starts_with(q)))
}

/// Why a text is not a Vietnamese mobile number, as returned by [`normalize_phone`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneError {
    /// The input is empty or only whitespace.
    Empty,
    /// The input holds something other than digits, separators, parentheses and a leading `+`,
    /// or its parentheses or `+` are misplaced.
    BadCharacters,
    /// The input does not have 10 digits (or 84 followed by 9 digits).
    WrongLength,
    /// The digits are not a Vietnamese mobile number: a landline, a foreign number, or a
    /// number that does not start with 0.
    UnknownPrefix,
}

impl fmt::Display for PhoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "the phone number is empty",
            Self::BadCharacters => {
                "a phone number may only contain digits, spaces, dots, dashes, parentheses around a group \
                 and a leading +84"
            }
            Self::WrongLength => "a Vietnamese mobile number has 10 digits, like 0912 345 678",
            Self::UnknownPrefix => {
                "not a Vietnamese mobile number: it must start with 03, 05, 07, 08 or 09 (or +84 followed by \
                 3, 5, 7, 8 or 9)"
            }
        })
    }
}

impl std::error::Error for PhoneError {}

/// Checks a Vietnamese mobile number and returns it as 10 plain digits, like `"0912345678"`.
///
/// Surrounding whitespace is ignored. Digits may be separated by spaces, dots and dashes, and one
/// group may be put in parentheses: "091 234 5678", "0912.345.678", "(091) 234-5678". The
/// international forms "+84 912 345 678", "(+84) 912 345 678" and "84912345678" become
/// "0912345678". The result starts with a mobile prefix: 03, 05, 07, 08 or 09.
///
/// # Errors
///
/// - [`PhoneError::Empty`] for an empty or blank input;
/// - [`PhoneError::BadCharacters`] for letters or other symbols, unbalanced parentheses, or a `+`
///   after the first digit;
/// - [`PhoneError::WrongLength`] when there are not exactly 10 digits (or 84 and 9 digits);
/// - [`PhoneError::UnknownPrefix`] for landlines (02…), foreign numbers (+1…) and numbers that
///   start with neither 0 nor 84.
pub fn normalize_phone(input: &str) -> Result<String, PhoneError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(PhoneError::Empty);
    }

    let mut digits = String::with_capacity(12);
    let mut international = false;
    // The number of digits seen when the currently open parenthesis was opened.
    let mut open_group: Option<usize> = None;
    for ch in trimmed.chars() {
        match ch {
            '0'..='9' => digits.push(ch),
            '+' if !international && digits.is_empty() => international = true,
            '(' if open_group.is_none() => open_group = Some(digits.len()),
            ')' => match open_group.take() {
                Some(start) if digits.len() > start => {}
                _ => return Err(PhoneError::BadCharacters),
            },
            '.' | '-' => {}
            c if c.is_whitespace() => {}
            _ => return Err(PhoneError::BadCharacters),
        }
    }
    if open_group.is_some() {
        return Err(PhoneError::BadCharacters);
    }

    let national = if international {
        let rest = digits.strip_prefix("84").ok_or(PhoneError::UnknownPrefix)?;
        if rest.len() != 9 {
            return Err(PhoneError::WrongLength);
        }
        format!("0{rest}")
    } else if digits.len() == 11 && digits.starts_with("84") {
        // Only the country code goes: the national number may itself start with 84 (084…).
        format!("0{}", &digits[2..])
    } else if digits.len() == 10 {
        digits
    } else {
        return Err(PhoneError::WrongLength);
    };

    match national.as_bytes() {
        [b'0', b'3' | b'5' | b'7' | b'8' | b'9', ..] => Ok(national),
        _ => Err(PhoneError::UnknownPrefix),
    }
}

/// Hides the Vietnamese mobile numbers in a chat message.
///
/// Every number that [`normalize_phone`] accepts, written with digits separated by at most one
/// space, dot or dash (optionally with a `+84` or `84` prefix, or parentheses around a group), is
/// replaced by the first three digits of its normalised form and `*******`:
/// "gọi em 0912 345 678 nhé" becomes "gọi em 091******* nhé", "sđt: +84912345678" becomes
/// "sđt: 091*******".
///
/// A run of digits is never split, so longer numbers such as the order number "123456789012"
/// are left alone, as are prices ("99.000đ"), quantities, dates and product codes. Digits next to
/// letters still count ("sdt0912345678"), as chat users often glue them together.
pub fn mask_phones(text: &str) -> String {
    let runs = digit_runs(text);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut next = 0;
    while next < runs.len() {
        match find_phone(text, &runs, next, copied) {
            Some(found) => {
                out.push_str(&text[copied..found.start]);
                out.extend(found.normalized.chars().take(3));
                out.push_str(PHONE_MASK);
                copied = found.end;
                next = found.last_run + 1;
            }
            None => next += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Cleans a chat message or free-text field for storage and display.
///
/// - whitespace (including newlines, tabs and non-breaking spaces) becomes a single space;
/// - other control characters (Unicode category Cc) are removed;
/// - invisible format characters (category Cf: zero width space and joiners, word joiner, byte
///   order mark, soft hyphen, bidirectional controls, tag characters…) are removed, except a
///   zero width joiner between two emoji, which holds emoji sequences such as 👨‍👩‍👧 together;
/// - the result is trimmed and composed (NFC), so text typed in NFD compares equal to NFC.
///
/// Cleaning a cleaned text changes nothing.
pub fn clean_text(input: &str) -> String {
    let chars: Vec<char> = input.chars().collect();
    let mut out = String::with_capacity(input.len());
    let mut pending_space = false;
    for (index, &ch) in chars.iter().enumerate() {
        if ch.is_whitespace() {
            pending_space = true;
            continue;
        }
        let keep = if ch == ZWJ {
            let before = index.checked_sub(1).and_then(|i| chars.get(i)).copied();
            let after = chars.get(index + 1).copied();
            !pending_space
                && before.is_some_and(|c| c == EMOJI_PRESENTATION || is_pictographic(c))
                && after.is_some_and(is_pictographic)
        } else {
            !ch.is_control() && !is_format_char(ch)
        };
        if !keep {
            continue;
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        out.push(ch);
    }
    out.nfc().collect()
}

/// A list of banned words and phrases, matched on whole words whatever their accents and case.
///
/// Words are compared by their [`fold`]ed form: banning "lừa đảo" (or "lua dao") blocks
/// "LỪA ĐẢO" and "lừa đảo quá", and banning "ngu" blocks "đồ ngu" but neither "nguyên" nor
/// "người". Words that differ only by their accents fold alike, so banning "đểu" also blocks
/// "đều"; choose entries that are unambiguous without accents, or longer phrases.
#[derive(Debug, Clone, Default)]
pub struct WordFilter {
    /// The distinct banned phrases, each one as its folded words.
    phrases: Vec<Vec<String>>,
}

impl WordFilter {
    /// Builds a filter from banned words and phrases; entries that fold to nothing (empty,
    /// blank, punctuation only) are ignored, and entries that fold alike are kept once.
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(words: I) -> Self {
        let mut phrases: Vec<Vec<String>> = words
            .into_iter()
            .map(|word| fold(word.as_ref()).split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .filter(|phrase| !phrase.is_empty())
            .collect();
        phrases.sort_unstable();
        phrases.dedup();
        Self { phrases }
    }

    /// Tells whether `text` contains a banned word or phrase as whole consecutive words.
    pub fn is_blocked(&self, text: &str) -> bool {
        if self.phrases.is_empty() {
            return false;
        }
        let folded = fold(text);
        let words: Vec<&str> = folded.split_whitespace().collect();
        self.phrases.iter().any(|phrase| {
            words.windows(phrase.len()).any(|window| window.iter().zip(phrase).all(|(word, banned)| word == banned))
        })
    }

    /// The number of distinct banned words and phrases.
    pub fn len(&self) -> usize {
        self.phrases.len()
    }

    /// Tells whether the filter bans nothing.
    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }
}

/// Tells whether `ch` is a combining mark, which [`fold`] drops.
fn is_mark(ch: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&ch) || is_combining_mark(ch)
}

/// Tells whether `ch` is an invisible format character (Unicode general category Cf).
fn is_format_char(ch: char) -> bool {
    matches!(
        ch,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// Tells whether `ch` is in one of the blocks where emoji live (an approximation of the
/// Extended_Pictographic property, good enough to keep emoji sequences together).
fn is_pictographic(ch: char) -> bool {
    matches!(ch, '\u{2300}'..='\u{23FF}' | '\u{2600}'..='\u{27BF}' | '\u{2B00}'..='\u{2BFF}' | '\u{1F000}'..='\u{1FAFF}')
}

/// Tells whether `ch` may separate two digit groups of a phone number inside a chat message.
fn is_phone_separator(ch: char) -> bool {
    matches!(ch, ' ' | '.' | '-' | '\u{00A0}' | '\u{202F}')
}

/// Tells whether the text between two digit runs keeps them in one phone number: one separator,
/// or a closing parenthesis followed by at most one separator, or at most one separator followed
/// by an opening parenthesis.
fn is_phone_joiner(gap: &str) -> bool {
    let single_separator = |s: &str| {
        let mut chars = s.chars();
        matches!((chars.next(), chars.next()), (Some(c), None) if is_phone_separator(c))
    };
    if single_separator(gap) {
        return true;
    }
    if let Some(rest) = gap.strip_prefix(')') {
        return rest.is_empty() || single_separator(rest);
    }
    if let Some(rest) = gap.strip_suffix('(') {
        return rest.is_empty() || single_separator(rest);
    }
    false
}

/// The byte ranges of the maximal runs of ASCII digits in `text`.
fn digit_runs(text: &str) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (index, ch) in text.char_indices() {
        match (ch.is_ascii_digit(), start) {
            (true, None) => start = Some(index),
            (false, Some(begin)) => {
                runs.push((begin, index));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(begin) = start {
        runs.push((begin, text.len()));
    }
    runs
}

/// A phone number found by [`find_phone`].
struct FoundPhone {
    /// Byte offset where the number starts, including a `+` or `(` before its digits.
    start: usize,
    /// Byte offset just past the number, including a `)` after its digits.
    end: usize,
    /// The index of the last digit run in the number.
    last_run: usize,
    /// The number as [`normalize_phone`] returns it.
    normalized: String,
}

/// Looks for a phone number made of the digit runs `first..`, starting at or after byte `floor`.
fn find_phone(text: &str, runs: &[(usize, usize)], first: usize, floor: usize) -> Option<FoundPhone> {
    let (run_start, _) = *runs.get(first)?;
    let starts = phone_starts(text, run_start, floor);
    let mut digit_count = 0;
    for (offset, &(start, end)) in runs.iter().enumerate().skip(first) {
        if offset > first && !is_phone_joiner(&text[runs[offset - 1].1..start]) {
            break;
        }
        digit_count += end - start;
        if digit_count > 11 {
            break;
        }
        if digit_count < 10 {
            continue;
        }
        let ends = [Some(end), text[end..].starts_with(')').then_some(end + 1)];
        for &from in &starts {
            for to in ends.into_iter().flatten() {
                if let Ok(normalized) = normalize_phone(&text[from..to]) {
                    return Some(FoundPhone { start: from, end: to, last_run: offset, normalized });
                }
            }
        }
    }
    None
}

/// The offsets where a phone number whose digits start at `run_start` may begin, best first:
/// with a `+` (and a `(` before it) when there is one, then without, then with a `(` alone.
fn phone_starts(text: &str, run_start: usize, floor: usize) -> Vec<usize> {
    let before = &text[..run_start];
    let mut starts = Vec::with_capacity(3);
    if before.ends_with('+') {
        let plus = run_start - 1;
        starts.push(plus);
        if text[..plus].ends_with('(') {
            starts.push(plus - 1);
        }
    }
    starts.push(run_start);
    if before.ends_with('(') {
        starts.push(run_start - 1);
    }
    starts.retain(|&start| start >= floor);
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decomposes `text`, to feed NFD input to the functions under test.
    fn nfd(text: &str) -> String {
        text.nfd().collect()
    }

    const FOLD_CASES: &[(&str, &str)] = &[
        ("Mật ong bạc hà", "mat ong bac ha"),
        ("Đặc sản Hà Giang!!", "dac san ha giang"),
        ("NƯỚC MẮM Phú Quốc 40°N", "nuoc mam phu quoc 40 n"),
        ("Cà phê  Buôn Ma Thuột", "ca phe buon ma thuot"),
        ("", ""),
        ("   ", ""),
        ("!!!", ""),
        ("ĐĐ đđ", "dd dd"),
        ("ĐẶC SẢN", "dac san"),
        ("Trà Shan tuyết", "tra shan tuyet"),
        ("Bánh pía Sóc Trăng", "banh pia soc trang"),
        ("Gạo ST25", "gao st25"),
        ("Mật ong 🍯 rừng", "mat ong rung"),
        ("🍯🍯", ""),
        ("A1x2", "a1x2"),
        ("99.000đ", "99 000d"),
        ("  -- Xoài cát Hoà Lộc --  ", "xoai cat hoa loc"),
        ("Hòa/Hoà", "hoa hoa"),
        ("Tiếng\tViệt\nmới", "tieng viet moi"),
        ("ng\u{200B}u", "ngu"),
        ("e\u{0301}", "e"),
        ("Ma\u{0323}\u{0302}t ong", "mat ong"),
        ("İstanbul", "istanbul"),
        ("ỨỪỬỮỰ ứừửữự", "uuuuu uuuuu"),
        ("Ỳ Ý Ỷ Ỹ Ỵ", "y y y y y"),
        ("chè_xanh", "che xanh"),
    ];

    #[test]
    fn fold_table() {
        for &(input, expected) in FOLD_CASES {
            assert_eq!(fold(input), expected, "fold({input:?})");
        }
    }

    #[test]
    fn fold_is_the_same_for_nfc_and_nfd_and_is_idempotent() {
        for &(input, expected) in FOLD_CASES {
            let composed: String = input.nfc().collect();
            assert_eq!(fold(&composed), expected, "fold of NFC {input:?}");
            assert_eq!(fold(&nfd(input)), expected, "fold of NFD {input:?}");
            assert_eq!(fold(expected), expected, "fold of the key of {input:?}");
        }
    }

    const MATCH_CASES: &[(&str, &str, bool)] = &[
        ("Mật ong bạc hà", "mat ong", true),
        ("Mật ong bạc hà", "Mật Ong", true),
        ("Mật ong bạc hà", "ong mat", true),
        ("Mật ong bạc hà", "ma", true),
        ("Mật ong bạc hà", "ng", false),
        ("Mật ong bạc hà", "mat ong rung", false),
        ("Trà Shan tuyết", "tra shan", true),
        ("Trà Shan tuyết", "TRÀ SHAN TUYẾT", true),
        ("Trà Shan tuyết", "tuyet shan", true),
        ("Trà Shan tuyết", "hoa", false),
        ("ong", "ong", true),
        ("Mật ong bạc hà", "", true),
        ("Mật ong bạc hà", "   ", true),
        ("Mật ong bạc hà", "?!", true),
        ("", "", true),
        ("", "mat", false),
        ("Đặc sản Hà Giang", "đặc", true),
        ("Đặc sản Hà Giang", "dac-san", true),
        ("Gạo ST25", "st2", true),
        ("Gạo ST25", "25", false),
        ("Mật ong", "mật ongg", false),
    ];

    #[test]
    fn matches_query_table() {
        for &(haystack, query, expected) in MATCH_CASES {
            let folded = fold(haystack);
            assert_eq!(matches_query(&folded, query), expected, "{haystack:?} ~ {query:?}");
            assert_eq!(matches_query(&fold(&nfd(haystack)), &nfd(query)), expected, "NFD {haystack:?} ~ {query:?}");
        }
    }

    const PHONE_OK: &[(&str, &str)] = &[
        ("0912345678", "0912345678"),
        ("091 234 5678", "0912345678"),
        ("0912.345.678", "0912345678"),
        ("091-234-5678", "0912345678"),
        ("+84 912 345 678", "0912345678"),
        ("84912345678", "0912345678"),
        ("0362 111 222", "0362111222"),
        ("(091) 234-5678", "0912345678"),
        ("(+84) 912 345 678", "0912345678"),
        ("+84912345678", "0912345678"),
        ("  0987654321 \n", "0987654321"),
        ("0512345678", "0512345678"),
        ("0712345678", "0712345678"),
        ("0812345678", "0812345678"),
        ("84 362 111 222", "0362111222"),
        ("84 849 123 456", "0849123456"),
        ("0912\u{00A0}345\u{00A0}678", "0912345678"),
    ];

    const PHONE_ERR: &[(&str, PhoneError)] = &[
        ("", PhoneError::Empty),
        ("   \t", PhoneError::Empty),
        ("0912a45678", PhoneError::BadCharacters),
        ("0912/345/678", PhoneError::BadCharacters),
        ("091234567O", PhoneError::BadCharacters),
        ("0912 345 678 ☎", PhoneError::BadCharacters),
        ("09123+45678", PhoneError::BadCharacters),
        ("++84912345678", PhoneError::BadCharacters),
        ("(091 234 5678", PhoneError::BadCharacters),
        ("091) 234 5678", PhoneError::BadCharacters),
        ("((091)) 234 5678", PhoneError::BadCharacters),
        ("() 0912345678", PhoneError::BadCharacters),
        ("091234567", PhoneError::WrongLength),
        ("09123456789", PhoneError::WrongLength),
        ("912345678", PhoneError::WrongLength),
        ("+84 0912 345 678", PhoneError::WrongLength),
        ("+8491234567", PhoneError::WrongLength),
        ("---", PhoneError::WrongLength),
        ("0212345678", PhoneError::UnknownPrefix),
        ("1912345678", PhoneError::UnknownPrefix),
        ("0012345678", PhoneError::UnknownPrefix),
        ("0412345678", PhoneError::UnknownPrefix),
        ("+1 555 123 4567", PhoneError::UnknownPrefix),
        ("+84 212 345 678", PhoneError::UnknownPrefix),
        ("84212345678", PhoneError::UnknownPrefix),
    ];

    #[test]
    fn normalize_phone_accepts_mobile_numbers() {
        for &(input, expected) in PHONE_OK {
            assert_eq!(normalize_phone(input).as_deref(), Ok(expected), "normalize_phone({input:?})");
        }
    }

    #[test]
    fn normalize_phone_rejects_with_the_right_error() {
        for (input, expected) in PHONE_ERR {
            assert_eq!(normalize_phone(input).as_ref(), Err(expected), "normalize_phone({input:?})");
        }
    }

    #[test]
    fn phone_errors_have_distinct_messages_and_are_errors() {
        let all = [PhoneError::Empty, PhoneError::BadCharacters, PhoneError::WrongLength, PhoneError::UnknownPrefix];
        let messages: Vec<String> = all.iter().map(ToString::to_string).collect();
        for (index, message) in messages.iter().enumerate() {
            assert!(!message.is_empty());
            assert!(!messages[..index].contains(message), "duplicate message {message:?}");
        }
        assert_eq!(PhoneError::WrongLength.to_string(), "a Vietnamese mobile number has 10 digits, like 0912 345 678");
        let boxed: Box<dyn std::error::Error> = Box::new(PhoneError::UnknownPrefix);
        assert!(boxed.to_string().contains("03, 05, 07, 08 or 09"));
    }

    const MASK_CASES: &[(&str, &str)] = &[
        ("gọi em 0912 345 678 nhé", "gọi em 091******* nhé"),
        ("sđt: +84912345678", "sđt: 091*******"),
        ("0912345678", "091*******"),
        ("0912.345.678", "091*******"),
        ("091-234-5678 ạ", "091******* ạ"),
        ("84912345678", "091*******"),
        ("+84 912 345 678", "091*******"),
        ("zalo 0362 111 222 hoặc 0987654321", "zalo 036******* hoặc 098*******"),
        ("chốt 2 0912345678", "chốt 2 091*******"),
        ("sdt0912345678", "sdt091*******"),
        ("0912345678đ", "091*******đ"),
        ("liên hệ (0912345678)", "liên hệ (091*******)"),
        ("(091) 234-5678", "091*******"),
        ("(+84) 912 345 678", "091*******"),
        ("+0912345678", "+091*******"),
        ("0912345678,0987654321", "091*******,098*******"),
        ("📞0912345678📞", "📞091*******📞"),
        ("Giá 99.000đ, gọi 0912345678", "Giá 99.000đ, gọi 091*******"),
        ("mã 123 0912 345 678", "mã 123 091*******"),
        // Not phone numbers: left unchanged.
        ("99.000đ", "99.000đ"),
        ("chốt 2", "chốt 2"),
        ("A1x2", "A1x2"),
        ("29/11/2026", "29/11/2026"),
        ("đơn 123456789012", "đơn 123456789012"),
        ("09123456789", "09123456789"),
        ("091234567", "091234567"),
        ("0212345678", "0212345678"),
        ("1.000.000.000đ", "1.000.000.000đ"),
        ("0912.345.6789", "0912.345.6789"),
        ("0912  345  678", "0912  345  678"),
        ("a0912345678901", "a0912345678901"),
        ("", ""),
        ("Mật ong 🍯", "Mật ong 🍯"),
    ];

    #[test]
    fn mask_phones_table() {
        for &(input, expected) in MASK_CASES {
            assert_eq!(mask_phones(input), expected, "mask_phones({input:?})");
        }
    }

    #[test]
    fn mask_phones_is_idempotent() {
        for &(input, _) in MASK_CASES {
            let once = mask_phones(input);
            assert_eq!(mask_phones(&once), once, "mask_phones twice on {input:?}");
        }
    }

    const CLEAN_CASES: &[(&str, &str)] = &[
        ("  chốt\u{200B}  2 \n", "chốt 2"),
        ("\u{202E}abc", "abc"),
        ("\u{200B}\u{200B}", ""),
        ("", ""),
        ("a\tb\r\nc", "a b c"),
        ("xin\u{00A0}chào", "xin chào"),
        ("\u{FEFF}Mật ong", "Mật ong"),
        ("lừa\u{00AD}đảo", "lừađảo"),
        ("a\u{200C}b\u{200D}c\u{2060}d", "abcd"),
        ("\u{2066}ẩn\u{2069} \u{202A}x\u{202C}", "ẩn x"),
        ("bell\u{0007}\u{0000}!", "bell!"),
        ("\u{007F}del", "del"),
        ("tag\u{E0041}\u{E007F}", "tag"),
        ("Ma\u{0323}\u{0302}t ong", "Mật ong"),
        ("👨\u{200D}👩\u{200D}👧", "👨\u{200D}👩\u{200D}👧"),
        ("❤\u{FE0F}\u{200D}🔥", "❤\u{FE0F}\u{200D}🔥"),
        ("👍 \u{200D}👍", "👍 👍"),
        ("👍👍", "👍👍"),
        ("dòng 1\n\n\ndòng 2", "dòng 1 dòng 2"),
        ("\u{2028}x\u{2029}", "x"),
    ];

    #[test]
    fn clean_text_table() {
        for &(input, expected) in CLEAN_CASES {
            assert_eq!(clean_text(input), expected, "clean_text({input:?})");
        }
    }

    #[test]
    fn clean_text_is_idempotent_and_composes() {
        for &(input, expected) in CLEAN_CASES {
            assert_eq!(clean_text(expected), expected, "clean_text twice on {input:?}");
        }
        assert_eq!(clean_text(&nfd("Mật ong Đặc sản")), clean_text("Mật ong Đặc sản"));
        assert_eq!(clean_text(&nfd("Mật")), "Mật");
    }

    const FILTER_CASES: &[(&str, bool)] = &[
        ("LỪA ĐẢO", true),
        ("lừa đảo quá", true),
        ("shop này lừa   đảo!!!", true),
        ("lừa", false),
        ("đồ ngu", true),
        ("NGU", true),
        ("ngu.", true),
        ("nguyên liệu", false),
        ("người bán", false),
        ("hàng chuẩn, giao nhanh", false),
        ("", false),
        ("đồ n\u{200B}gu", true),
        ("ng u", false),
        ("Ngu\u{0301}", true),
        ("lu\u{0300}a đa\u{0309}o", true),
        ("cái ĐỒ KHỐN", true),
        ("đồ khô", false),
        ("khốn khó", false),
        ("👍ngu👍", true),
        ("ngu2", false),
    ];

    #[test]
    fn word_filter_table() {
        let filter = WordFilter::new(["lua dao", "ngu", "Đồ khốn"]);
        for &(text, expected) in FILTER_CASES {
            assert_eq!(filter.is_blocked(text), expected, "is_blocked({text:?})");
            assert_eq!(filter.is_blocked(&nfd(text)), expected, "is_blocked(NFD {text:?})");
        }
    }

    #[test]
    fn word_filter_counts_distinct_folded_entries() {
        let filter = WordFilter::new(["lừa đảo", "LUA DAO", "", "   ", "!!", "ngu"]);
        assert_eq!(filter.len(), 2);
        assert!(!filter.is_empty());

        let empty = WordFilter::new(Vec::<String>::new());
        assert!(empty.is_empty());
        assert_eq!(empty.len(), 0);
        assert!(!empty.is_blocked("lừa đảo"));

        let default = WordFilter::default();
        assert!(default.is_empty());
        assert!(!default.is_blocked("anything"));

        let owned = WordFilter::new(vec![String::from("ngu")]);
        assert!(owned.clone().is_blocked("đồ ngu"));
    }

    #[test]
    fn word_filter_matches_overlapping_phrases() {
        let filter = WordFilter::new(["ab ab"]);
        assert!(filter.is_blocked("xab ab ab"));
        assert!(!filter.is_blocked("xab ab"));
    }
}
