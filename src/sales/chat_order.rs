//! Order commands typed in a live show's chat: "chốt 2", "lấy 1 A3", "A1 x2", "hủy".
//!
//! [`parse`] is a pure function that reads one comment and says whether it is an order command.
//! It is deliberately strict: a comment that is not clearly a command (a question, chatter, a
//! price, a phone number, two products at once) gives `None`, and the comment stays ordinary
//! chat. A missed order costs the buyer one more comment; a wrong order costs the seller a call.
//!
//! # The language
//!
//! Comments are compared word by word on their [`fold`]ed form (no case, no accents, `đ` is `d`,
//! punctuation and emoji are spaces), so "CHỐT 2", "chot 2" and "chốt-2" read alike. A command is
//! at most [`MAX_WORDS`] words long and has one of three shapes:
//!
//! - **verb first**: `chốt`, `lấy`, `mua` or `đặt`, optionally followed by `đơn`, `hàng` or
//!   `đơn hàng`, then optionally who it is for (`em`, `cho em`, `giúp chị`…), then the order:
//!   nothing, a quantity, a lineup code, or both in either order ("chốt", "chốt đơn 2",
//!   "lấy 2 hũ A1", "chốt A1 x3", "mua cho em 1 A2"). Without a quantity the buyer orders one.
//! - **bare code**: a lineup code with or without a quantity ("A1", "A1 2", "A1x2", "A1*2",
//!   "A1+2", "2 A1", "2xA1", "2 x A1"). A bare quantity ("2", "x2") is not a command.
//! - **cancel**: `hủy`, optionally followed by `đơn`, who it is for and one lineup code ("hủy",
//!   "hủy đơn", "hủy A1"). The code is accepted but not returned: the latest unconfirmed order is
//!   cancelled whichever product it was for.
//!
//! Every shape may end with politeness words ("nha", "nhé", "ạ", "shop ơi", "với", "luôn"…,
//! stretched ones too: "nhaaa"), and nothing else.
//!
//! A quantity is 1 to [`MAX_CHAT_QTY`] in digits ("2", "02", "x2", "2x"), optionally followed by
//! a unit ("2 hũ", "2hũ", "1 sản phẩm"). The number words `một`, `hai`, `ba`, `bốn`/`tư` and
//! `năm` count only right after the verb ("lấy hai hũ") or before a code ("hai A1"), never after
//! a code ("A1 hai"). A unit alone may stand before a code for one unit ("mua combo A2").
//!
//! A lineup code is one ASCII letter and a number from 1 to 99 ("A1", "b12"); it is returned
//! uppercase without leading zeros ("a01" gives "A1"). The letter `x` is the multiplication sign
//! ("A1 x2"), so "X2" is read as "times two", never as a code.
//!
//! # What is not a command
//!
//! - anything that starts otherwise than with a verb, `hủy`, a lineup code or a quantity before
//!   a code: "shop chốt giúp em với", "mình muốn mua", "bao giờ chốt". The verb must be the
//!   first word.
//! - a question mark anywhere, or a question word ([`QUESTION_WORDS`]: "không", "ko", "chưa",
//!   "sao", "gì", "nào", "đâu", "bao nhiêu", "mấy"…), or "rồi" ("chốt rồi nha" reports an order
//!   already placed, it does not place another one).
//! - any word outside the language above, so chatter and product names never become orders.
//! - numbers that are not a quantity: 0, more than [`MAX_CHAT_QTY`], decimals ("1.5", "1,5"),
//!   negative numbers ("-1"), prices ("99k", "99.000đ", "2$", "50%"), phone numbers.
//! - two codes ("chốt A1 A2"), two quantities ("chốt 2 3"), a code out of shape ("AA1",
//!   "A123", "A0").
//! - "ơi" right after the command word: "Huy ơi", "Đạt ơi" call a person by name.
//!
//! Words whose accents give them another meaning do not count: a keyword matches when it is
//! typed with its own accents or with no accents at all. So "mưa" (rain), "đạt", "nấm"
//! (mushroom), "bà", "giờ" or "à" are not "mua", "đặt", "năm", "ba", "giỏ" or "ạ", while "mua",
//! "dat", "nam", "ba", "gio" and "a" typed without accents are. Accents typed halfway ("chôt")
//! do not count either.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::vn::{clean_text, fold};

/// What a chat comment asks for, when it is an order command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatIntent {
    /// Order `qty` units of the product with lineup code `code` (like "A1"), or, without a code,
    /// of the product on screen.
    Order { qty: u32, code: Option<String> },
    /// Cancel the buyer's latest unconfirmed order from this show.
    Cancel,
}

/// Largest quantity one comment may order; larger numbers are not order commands.
pub const MAX_CHAT_QTY: u32 = 99;

/// Longest command, in words after folding; longer comments are chat, not commands.
pub const MAX_WORDS: usize = 8;

/// Folded words that make a comment a question (or a report of the past), never a command.
pub const QUESTION_WORDS: &[&str] = &[
    "khong", "ko", "k", "kh", "hk", "hok", "hong", "khum", "chua", "sao", "gi", "j", "nao", "dau", "bao", "may", "roi",
    "ha", "hay",
];

/// Reads a chat comment; `None` for anything that is not clearly an order command.
///
/// See the [module documentation](self) for the language and the comments it turns down.
///
/// ```
/// # use ocop_live::sales::chat_order::{ChatIntent, parse};
/// assert_eq!(parse("chốt 2 nha shop"), Some(ChatIntent::Order { qty: 2, code: None }));
/// assert_eq!(parse("lấy 1 hũ a3"), Some(ChatIntent::Order { qty: 1, code: Some("A3".into()) }));
/// assert_eq!(parse("hủy đơn"), Some(ChatIntent::Cancel));
/// assert_eq!(parse("chốt chưa shop?"), None);
/// ```
#[must_use]
pub fn parse(text: &str) -> Option<ChatIntent> {
    let cleaned = clean_text(text);
    if has_forbidden_signs(&cleaned) {
        return None;
    }
    let word_count = fold(&cleaned).split_whitespace().count();
    if word_count == 0 || word_count > MAX_WORDS {
        return None;
    }
    let words = words(&cleaned);
    let bad_number = |word: &Word| is_digits(&word.key) && quantity_of(&word.key).is_none();
    if words.iter().any(|word| bad_number(word) || QUESTION_WORDS.contains(&word.key.as_str())) {
        return None;
    }
    let (first, rest) = words.split_first()?;
    if first.is(&CANCEL) {
        parse_cancel(rest)
    } else if VERBS.iter().any(|verb| first.is(verb)) {
        parse_order(rest)
    } else {
        parse_bare(&words)
    }
}

/// A word of the command language: its folded form and the accented spellings it is typed with.
struct Keyword {
    /// The word as [`fold`] gives it.
    key: &'static str,
    /// The spellings with accents that mean this word, lowercase and composed (NFC).
    accented: &'static [&'static str],
}

/// Builds a [`Keyword`].
const fn kw(key: &'static str, accented: &'static [&'static str]) -> Keyword {
    Keyword { key, accented }
}

/// The verbs that start an order.
const VERBS: &[Keyword] = &[kw("chot", &["chốt"]), kw("lay", &["lấy"]), kw("mua", &[]), kw("dat", &["đặt"])];

/// The nouns that may follow a verb or `hủy`: "chốt đơn", "đặt hàng", "đặt đơn hàng", "hủy đơn".
const ORDER_NOUNS: &[Keyword] = &[kw("don", &["đơn"]), kw("hang", &["hàng"])];

/// The verb that cancels.
const CANCEL: Keyword = kw("huy", &["hủy", "huỷ"]);

/// The words that introduce who an order is for: "cho em", "giúp chị".
const FOR: &[Keyword] = &[kw("cho", &[]), kw("giup", &["giúp"]), kw("gium", &["giùm"]), kw("dum", &["dùm"])];

/// The pronouns of the buyer, as in "lấy em 2 hũ" or "chốt cho mình A1".
const PRONOUNS: &[Keyword] = &[
    kw("em", &[]),
    kw("e", &[]),
    kw("minh", &["mình"]),
    kw("chi", &["chị"]),
    kw("c", &[]),
    kw("anh", &[]),
    kw("toi", &["tôi"]),
];

/// Quantities written as words.
const NUMBER_WORDS: &[(Keyword, u32)] = &[
    (kw("mot", &["một"]), 1),
    (kw("hai", &[]), 2),
    (kw("ba", &[]), 3),
    (kw("bon", &["bốn"]), 4),
    (kw("tu", &["tư"]), 4),
    (kw("nam", &["năm"]), 5),
];

/// One-word units: "2 hũ", "1 hộp".
const UNITS: &[Keyword] = &[
    kw("cai", &["cái"]),
    kw("hu", &["hũ"]),
    kw("hop", &["hộp"]),
    kw("chai", &[]),
    kw("goi", &["gói"]),
    kw("tui", &["túi"]),
    kw("kg", &[]),
    kw("bich", &["bịch"]),
    kw("phan", &["phần"]),
    kw("set", &[]),
    kw("sp", &[]),
    kw("combo", &[]),
    kw("gio", &["giỏ"]),
    kw("lo", &["lọ"]),
    kw("bo", &["bộ"]),
    kw("thung", &["thùng"]),
];

/// The two-word unit "sản phẩm".
const PRODUCT_UNIT: [Keyword; 2] = [kw("san", &["sản"]), kw("pham", &["phẩm"])];

/// Words that may end a command: particles, the person addressed, a thank you.
const POLITE: &[Keyword] = &[
    kw("nha", &[]),
    kw("nhe", &["nhé"]),
    kw("a", &["ạ"]),
    kw("ad", &[]),
    kw("admin", &[]),
    kw("shop", &[]),
    kw("sop", &["sốp"]),
    kw("em", &[]),
    kw("e", &[]),
    kw("chi", &["chị"]),
    kw("c", &[]),
    kw("anh", &[]),
    kw("oi", &["ơi"]),
    kw("voi", &["với"]),
    kw("luon", &["luôn"]),
    kw("nhen", &[]),
    kw("nghen", &[]),
    kw("lien", &["liền"]),
    kw("di", &["đi"]),
    kw("ne", &["nè"]),
    kw("please", &[]),
    kw("pls", &[]),
    kw("thanks", &[]),
    kw("tks", &[]),
];

/// "ơi", which right after the command word calls a person by name ("Huy ơi").
const VOCATIVE: Keyword = kw("oi", &["ơi"]);

/// The multiplication sign, as in "A1 x2"; never a lineup letter.
const TIMES: &str = "x";

/// One word of a comment.
#[derive(Debug, Clone)]
struct Word {
    /// The word folded: lowercase ASCII letters and digits for the words of the language.
    key: String,
    /// The word as typed, lowercase and composed, with only its letters, digits and accents.
    raw: String,
}

impl Word {
    /// A word typed without accents.
    fn plain(key: &str) -> Self {
        Self { key: key.to_owned(), raw: key.to_owned() }
    }

    /// Tells whether the word is `keyword`, typed with its accents or with none.
    fn is(&self, keyword: &Keyword) -> bool {
        self.key == keyword.key && (!has_accents(&self.raw) || keyword.accented.contains(&self.raw.as_str()))
    }

    /// Tells whether the word is one of `keywords`.
    fn is_any(&self, keywords: &[Keyword]) -> bool {
        keywords.iter().any(|keyword| self.is(keyword))
    }

    /// The word without the repeats of its last letter ("nhaaa" is "nha"), for politeness
    /// words that buyers stretch.
    fn unstretched(&self) -> Self {
        Self { key: unstretch(&self.key).to_owned(), raw: unstretch(&self.raw).to_owned() }
    }

    /// The lineup code this word is, uppercase.
    fn code(&self) -> Option<String> {
        code_of(&self.key)
    }
}

/// A quantity read by [`quantity`].
struct Quantity {
    /// How many units.
    value: u32,
    /// The index of the first word after the quantity.
    next: usize,
    /// Whether the number was a word ("hai"), which only counts in some places.
    spelled: bool,
    /// Whether there was only a unit ("combo"), which only counts before a code.
    unit_only: bool,
}

/// Reads what follows `hủy`.
fn parse_cancel(rest: &[Word]) -> Option<ChatIntent> {
    let start = head_end(rest)?;
    let start = start + beneficiary_len(rest, start);
    let words = rest.get(start..)?;
    let tail = match words.first() {
        Some(word) if word.code().is_some() => words.get(1..)?,
        _ => words,
    };
    is_polite_tail(tail).then_some(ChatIntent::Cancel)
}

/// Reads what follows an order verb.
fn parse_order(rest: &[Word]) -> Option<ChatIntent> {
    let start = head_end(rest)?;
    let after_beneficiary = start + beneficiary_len(rest, start);
    [after_beneficiary, start].into_iter().find_map(|from| order_body(rest.get(from..)?, true))
}

/// Reads a comment that starts without a verb: it must name a code.
fn parse_bare(words: &[Word]) -> Option<ChatIntent> {
    match order_body(words, false)? {
        order @ ChatIntent::Order { code: Some(_), .. } => Some(order),
        _ => None,
    }
}

/// Skips the optional `đơn`, `hàng` or `đơn hàng` after the command word and returns where the
/// rest starts; `None` when "ơi" follows the command word, which then is somebody's name.
fn head_end(rest: &[Word]) -> Option<usize> {
    let start = rest.iter().take(2).take_while(|word| word.is_any(ORDER_NOUNS)).count();
    match rest.get(start) {
        Some(word) if word.unstretched().is(&VOCATIVE) => None,
        _ => Some(start),
    }
}

/// The number of words saying who the order is for at `at`: "cho em" is 2, "em" is 1.
fn beneficiary_len(words: &[Word], at: usize) -> usize {
    let is_pronoun = |index: usize| words.get(index).is_some_and(|word| word.is_any(PRONOUNS));
    match words.get(at) {
        Some(word) if word.is_any(FOR) && is_pronoun(at + 1) => 2,
        Some(_) if is_pronoun(at) => 1,
        _ => 0,
    }
}

/// Reads the order itself: nothing (after a verb only), a quantity, a code, or both, then
/// politeness words.
fn order_body(words: &[Word], after_verb: bool) -> Option<ChatIntent> {
    let order = |qty: u32, code: Option<String>| Some(ChatIntent::Order { qty, code });
    if let Some(code) = words.first().and_then(Word::code) {
        if let Some(qty) = quantity(words, 1)
            && !qty.spelled
            && !qty.unit_only
            && is_polite_tail(words.get(qty.next..)?)
        {
            return order(qty.value, Some(code));
        }
        return if is_polite_tail(words.get(1..)?) { order(1, Some(code)) } else { None };
    }
    if let Some(qty) = quantity(words, 0) {
        if let Some(code) = words.get(qty.next).and_then(Word::code)
            && is_polite_tail(words.get(qty.next + 1..)?)
        {
            return order(qty.value, Some(code));
        }
        if after_verb && !qty.unit_only && is_polite_tail(words.get(qty.next..)?) {
            return order(qty.value, None);
        }
        return None;
    }
    if after_verb && is_polite_tail(words) { order(1, None) } else { None }
}

/// Reads a quantity starting at word `at`: "2", "02", "x2", "2x", "2 hũ", "hai hũ", "hũ".
fn quantity(words: &[Word], at: usize) -> Option<Quantity> {
    let word = words.get(at)?;
    let digits_at = |index: usize| words.get(index).and_then(|word| quantity_of(&word.key));
    let (value, mut next, spelled) = if word.key == TIMES {
        (digits_at(at + 1)?, at + 2, false)
    } else if let Some(value) = digits_at(at) {
        let times = words.get(at + 1).is_some_and(|word| word.key == TIMES);
        (value, at + 1 + usize::from(times), false)
    } else if let Some((_, value)) = NUMBER_WORDS.iter().find(|(keyword, _)| word.is(keyword)) {
        (*value, at + 1, true)
    } else {
        let len = unit_len(words, at);
        return (len > 0).then_some(Quantity { value: 1, next: at + len, spelled: false, unit_only: true });
    };
    next += unit_len(words, next);
    Some(Quantity { value, next, spelled, unit_only: false })
}

/// The number of words of the unit at `at`: 2 for "sản phẩm", 1 for "hũ", 0 for no unit.
fn unit_len(words: &[Word], at: usize) -> usize {
    let is = |index: usize, keyword: &Keyword| words.get(index).is_some_and(|word| word.is(keyword));
    if is(at, &PRODUCT_UNIT[0]) && is(at + 1, &PRODUCT_UNIT[1]) {
        2
    } else {
        usize::from(words.get(at).is_some_and(|word| word.is_any(UNITS)))
    }
}

/// Tells whether every word is a politeness word.
fn is_polite_tail(words: &[Word]) -> bool {
    words.iter().all(|word| word.unstretched().is_any(POLITE))
}

/// Splits the comment into words, and words glued together ("a1x2", "2xa1", "x2", "2hũ") into
/// their parts.
fn words(cleaned: &str) -> Vec<Word> {
    let lower = cleaned.to_lowercase();
    let mut out = Vec::new();
    for piece in lower.split(|c: char| !(c.is_alphanumeric() || is_combining_mark(c))) {
        let key = fold(piece);
        if key.is_empty() {
            continue;
        }
        let raw: String = piece.nfd().filter(|&c| c.is_alphanumeric() || is_accent(c)).nfc().collect();
        // A word folds to several only through unusual letters; its parts keep the whole as typed.
        for part in key.split(' ') {
            out.extend(split_glued(Word { key: part.to_owned(), raw: raw.clone() }));
        }
    }
    out
}

/// Splits a word glued from a code, a number, `x` and a unit; other words come back whole.
fn split_glued(word: Word) -> Vec<Word> {
    let key = word.key.as_str();
    if !key.is_ascii() || is_digits(key) || code_of(key).is_some() || key == TIMES {
        return vec![word];
    }
    if let Some(number) = key.strip_prefix(TIMES).filter(|rest| is_digits(rest)) {
        return vec![Word::plain(TIMES), Word::plain(number)];
    }
    if let Some(number) = key.strip_suffix(TIMES).filter(|rest| is_digits(rest)) {
        return vec![Word::plain(number), Word::plain(TIMES)];
    }
    for (at, _) in key.match_indices(TIMES) {
        let (Some(left), Some(right)) = (key.get(..at), key.get(at + TIMES.len()..)) else {
            continue;
        };
        if (code_of(left).is_some() && is_digits(right)) || (is_digits(left) && code_of(right).is_some()) {
            return vec![Word::plain(left), Word::plain(TIMES), Word::plain(right)];
        }
    }
    let digits = key.bytes().take_while(u8::is_ascii_digit).count();
    if let (Some(number), Some(unit)) = (key.get(..digits), key.get(digits..))
        && !number.is_empty()
        && UNITS.iter().any(|keyword| keyword.key == unit)
    {
        let unit_raw = word.raw.trim_start_matches(|c: char| c.is_ascii_digit());
        return vec![Word::plain(number), Word { key: unit.to_owned(), raw: unit_raw.to_owned() }];
    }
    vec![word]
}

/// The lineup code `key` is, uppercase and without leading zeros: a letter other than `x` and
/// a number from 1 to 99 in one or two digits.
fn code_of(key: &str) -> Option<String> {
    let mut chars = key.chars();
    let letter = chars.next().filter(|c| c.is_ascii_lowercase() && *c != 'x')?;
    let digits = chars.as_str();
    if !(1..=2).contains(&digits.len()) || !is_digits(digits) {
        return None;
    }
    let number: u32 = digits.parse().ok()?;
    (number > 0).then(|| format!("{}{number}", letter.to_ascii_uppercase()))
}

/// The quantity `key` is: ASCII digits worth 1 to [`MAX_CHAT_QTY`].
fn quantity_of(key: &str) -> Option<u32> {
    if !is_digits(key) || key.len() > 9 {
        return None;
    }
    key.parse().ok().filter(|value| (1..=MAX_CHAT_QTY).contains(value))
}

/// Tells whether `text` is one or more ASCII digits.
fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Tells whether `ch` is one of the combining accents Vietnamese letters are made of.
fn is_accent(ch: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&ch)
}

/// Tells whether a word carries Vietnamese accents (`đ` alone does not count).
fn has_accents(raw: &str) -> bool {
    raw.nfd().any(is_accent)
}

/// `text` without the repeats of its last character: "nhaaa" gives "nha".
fn unstretch(text: &str) -> &str {
    let mut text = text;
    loop {
        let mut last = text.char_indices().rev();
        match (last.next(), last.next()) {
            (Some((at, end)), Some((_, before))) if end == before => match text.get(..at) {
                Some(shorter) => text = shorter,
                None => return text,
            },
            _ => return text,
        }
    }
}

/// Tells whether the cleaned comment holds signs that rule a command out, which folding would
/// erase: a question mark, a currency or percent sign, a minus before a number ("-1"), or a
/// decimal point or comma between digits ("1.5", "99.000").
fn has_forbidden_signs(cleaned: &str) -> bool {
    let chars: Vec<char> = cleaned.chars().collect();
    chars.iter().enumerate().any(|(index, &ch)| {
        let before = index.checked_sub(1).and_then(|i| chars.get(i)).copied();
        let digit_after = chars.get(index + 1).is_some_and(char::is_ascii_digit);
        match ch {
            '?' | '？' | '¿' | '$' | '₫' | '€' | '%' => true,
            '-' | '−' | '–' | '—' => digit_after && !before.is_some_and(char::is_alphanumeric),
            '.' | ',' => digit_after && before.is_some_and(|c| c.is_ascii_digit()),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected reading of a comment.
    #[derive(Debug, Clone, Copy)]
    enum Want {
        /// An order of this many units of this code (or of the product on screen).
        Order(u32, Option<&'static str>),
        /// A cancellation.
        Cancel,
        /// Not a command.
        Chat,
    }

    use Want::{Cancel, Chat, Order};

    impl Want {
        fn intent(self) -> Option<ChatIntent> {
            match self {
                Order(qty, code) => Some(ChatIntent::Order { qty, code: code.map(str::to_owned) }),
                Cancel => Some(ChatIntent::Cancel),
                Chat => None,
            }
        }
    }

    const CASES: &[(&str, Want)] = &[
        // Verb and quantity.
        ("chốt 2", Order(2, None)),
        ("chot 2", Order(2, None)),
        ("CHỐT 2", Order(2, None)),
        ("Chốt 3", Order(3, None)),
        ("lấy 1", Order(1, None)),
        ("lay 4", Order(4, None)),
        ("mua 5", Order(5, None)),
        ("đặt 1", Order(1, None)),
        ("dat 2", Order(2, None)),
        ("đat 2", Order(2, None)),
        ("chốt 02", Order(2, None)),
        ("chốt 99", Order(99, None)),
        ("chốt   2  ", Order(2, None)),
        ("chốt x2", Order(2, None)),
        ("chốt 2x", Order(2, None)),
        ("chốt-2", Order(2, None)),
        ("chốt 2️⃣", Order(2, None)),
        // Verb alone, or with politeness words only.
        ("chốt", Order(1, None)),
        ("Chốt!", Order(1, None)),
        ("chốt nhé", Order(1, None)),
        ("lấy", Order(1, None)),
        ("mua", Order(1, None)),
        ("chốt đơn", Order(1, None)),
        ("đặt hàng", Order(1, None)),
        ("đặt đơn hàng 2 hộp", Order(2, None)),
        ("chốt 2, A1", Order(2, Some("A1"))),
        ("chốt cho", Chat),
        ("chốt luôn shop ơi", Order(1, None)),
        ("chốt liền nha", Order(1, None)),
        ("chốt đi", Order(1, None)),
        ("chốt nhaaa", Order(1, None)),
        ("chốt cho em", Order(1, None)),
        // With đơn.
        ("chốt đơn 2", Order(2, None)),
        ("chot don 3 hu", Order(3, None)),
        ("chot don A1", Order(1, Some("A1"))),
        ("chốt đơn A1 x2 nhé shop", Order(2, Some("A1"))),
        ("đặt đơn 1 hộp", Order(1, None)),
        // Units.
        ("lấy 2 hũ", Order(2, None)),
        ("chốt 3 hộp", Order(3, None)),
        ("mua 2 cái A2", Order(2, Some("A2"))),
        ("chốt 1 chai", Order(1, None)),
        ("lấy 2 gói", Order(2, None)),
        ("lấy 2 túi", Order(2, None)),
        ("chốt 1 kg", Order(1, None)),
        ("chốt 2kg", Order(2, None)),
        ("chốt 2hũ A1", Order(2, Some("A1"))),
        ("lấy 2 bịch", Order(2, None)),
        ("chốt 1 phần", Order(1, None)),
        ("chốt 1 set", Order(1, None)),
        ("chốt 2 sp", Order(2, None)),
        ("chốt 1 sản phẩm A2", Order(1, Some("A2"))),
        ("chot 1 san pham", Order(1, None)),
        ("chốt 1 combo", Order(1, None)),
        ("lấy 1 giỏ", Order(1, None)),
        ("lấy 2 lọ A4", Order(2, Some("A4"))),
        ("mua combo A2", Order(1, Some("A2"))),
        // Codes after a verb.
        ("chốt A1", Order(1, Some("A1"))),
        ("lấy A2", Order(1, Some("A2"))),
        ("lấy 1 A3", Order(1, Some("A3"))),
        ("chốt A1 2", Order(2, Some("A1"))),
        ("chốt 2 A1", Order(2, Some("A1"))),
        ("lấy 2 hũ A1", Order(2, Some("A1"))),
        ("lay A2 x3", Order(3, Some("A2"))),
        ("lấy A2 3 hũ", Order(3, Some("A2"))),
        ("chốt 1 A3 nha shop", Order(1, Some("A3"))),
        ("chốt b12", Order(1, Some("B12"))),
        ("chốt a01", Order(1, Some("A1"))),
        ("chốt A1x2", Order(2, Some("A1"))),
        ("chốt 2xA1", Order(2, Some("A1"))),
        ("CHỐT A1 X 2", Order(2, Some("A1"))),
        // Who the order is for.
        ("lấy em 2 hũ", Order(2, None)),
        ("chốt cho em 1 A3", Order(1, Some("A3"))),
        ("chốt giúp chị A2 nhé", Order(1, Some("A2"))),
        ("mua cho mình 2", Order(2, None)),
        ("lấy e A1", Order(1, Some("A1"))),
        // Number words.
        ("chốt một", Order(1, None)),
        ("chốt hai", Order(2, None)),
        ("lấy ba hũ", Order(3, None)),
        ("mua bốn", Order(4, None)),
        ("chốt tư", Order(4, None)),
        ("chot nam", Order(5, None)),
        ("lấy hai A1", Order(2, Some("A1"))),
        ("hai A1", Order(2, Some("A1"))),
        ("lấy năm hộp A2 nha", Order(5, Some("A2"))),
        ("chốt A1 hai", Chat),
        ("A1 ba", Chat),
        // Politeness, emoji and spacing.
        ("chốt 2 nha shop ơi ❤️", Order(2, None)),
        ("chốt 2 ạ", Order(2, None)),
        ("chot 2 a", Order(2, None)),
        ("chốt 2 nhé ad", Order(2, None)),
        ("chốt 2 sốp ơi", Order(2, None)),
        ("chốt 1 với ạ", Order(1, None)),
        ("chốt 2 nè", Order(2, None)),
        ("🔥🔥 chốt 2 🔥🔥", Order(2, None)),
        ("chốt 2 pls", Order(2, None)),
        ("Chốt 2 nhen chị", Order(2, None)),
        ("chốt 2 nghen anh", Order(2, None)),
        ("chốt 2 ơi", Order(2, None)),
        ("chốt\u{200B} 2", Order(2, None)),
        ("chốt\u{00A0}2\tnha", Order(2, None)),
        // Bare codes.
        ("A1", Order(1, Some("A1"))),
        ("a1", Order(1, Some("A1"))),
        ("A1 2", Order(2, Some("A1"))),
        ("A1x2", Order(2, Some("A1"))),
        ("a1X2", Order(2, Some("A1"))),
        ("A1 x 2", Order(2, Some("A1"))),
        ("A1*2", Order(2, Some("A1"))),
        ("A1+2", Order(2, Some("A1"))),
        ("A1-2", Order(2, Some("A1"))),
        ("A1 x2 nha", Order(2, Some("A1"))),
        ("2 A1", Order(2, Some("A1"))),
        ("2 x A1", Order(2, Some("A1"))),
        ("2xA1", Order(2, Some("A1"))),
        ("A1 2 hũ", Order(2, Some("A1"))),
        ("B12 x3", Order(3, Some("B12"))),
        ("A1 nha shop", Order(1, Some("A1"))),
        ("C3 ạ ❤️", Order(1, Some("C3"))),
        // Cancel.
        ("hủy", Cancel),
        ("huy", Cancel),
        ("HỦY", Cancel),
        ("huỷ", Cancel),
        ("hủy đơn", Cancel),
        ("huy don", Cancel),
        ("hủy nha shop", Cancel),
        ("hủy đơn giúp em", Cancel),
        ("hủy A1", Cancel),
        ("hủy đơn A1 nhé", Cancel),
        ("Hủy!!", Cancel),
        ("hủy 2", Chat),
        ("hủy A1 A2", Chat),
        ("Huy ơi", Chat),
        ("huy oi chot 2", Chat),
        // Questions and chatter.
        ("chốt chưa shop?", Chat),
        ("chốt chưa", Chat),
        ("chốt 2?", Chat),
        ("chốt rồi nha", Chat),
        ("chot roi", Chat),
        ("giá bao nhiêu", Chat),
        ("ship không shop", Chat),
        ("mua ở đâu", Chat),
        ("lấy sao vậy", Chat),
        ("bao giờ chốt", Chat),
        ("shop chốt giúp em với", Chat),
        ("mình muốn mua", Chat),
        ("mua mấy hũ", Chat),
        ("lấy 2 được ko", Chat),
        ("chốt k", Chat),
        ("A1 còn không", Chat),
        ("A1 giá nhiêu", Chat),
        ("mua gì", Chat),
        ("lấy nào", Chat),
        ("chốt 2 à", Chat),
        ("lấy 2 hay 3", Chat),
        ("chốt đơn cho mẹ", Chat),
        ("shop ơi chốt 2", Chat),
        ("hàng đẹp quá", Chat),
        ("Đạt ơi", Chat),
        ("Đạt", Chat),
        ("mưa", Chat),
        ("mua nấm", Chat),
        ("lấy bà", Chat),
        ("chốt 2 giờ", Chat),
        ("chôt 2", Chat),
        ("", Chat),
        ("   ", Chat),
        ("❤️❤️❤️", Chat),
        ("2", Chat),
        ("x2", Chat),
        ("2 hũ", Chat),
        // Numbers that are not quantities.
        ("0912345678", Chat),
        ("0912 345 678", Chat),
        ("chốt 0912345678", Chat),
        ("99k", Chat),
        ("chốt 99k", Chat),
        ("99.000đ", Chat),
        ("chốt 2 99.000đ", Chat),
        ("chốt 2$", Chat),
        ("chốt 0", Chat),
        ("chốt 00", Chat),
        ("chốt 100", Chat),
        ("chốt 1000", Chat),
        ("A1 x100", Chat),
        ("chốt 4294967296", Chat),
        ("chốt -1", Chat),
        ("chốt - 1", Order(1, None)),
        ("A1 -2", Chat),
        ("chốt 1.5", Chat),
        ("chốt 1,5", Chat),
        ("chốt 2 3", Chat),
        ("chốt 2 hũ 3", Chat),
        // Codes out of shape, or two of them.
        ("chốt A1 A2", Chat),
        ("A1 A2", Chat),
        ("chốt 2 A1 B2", Chat),
        ("chốt AA1", Chat),
        ("chốt A123", Chat),
        ("chốt A0", Chat),
        ("X2", Chat),
        ("chốt 1x2", Chat),
        ("Gạo ST25", Chat),
        // Politeness words only at the end, and long comments.
        ("chốt nha 2", Chat),
        ("chốt 2 A1 nha A2", Chat),
        ("chốt 2 nha shop ơi em với luôn", Order(2, None)),
        ("chốt 2 nha shop ơi em với luôn nhé", Chat),
        ("em thấy sản phẩm này đẹp quá muốn chốt 2 cái", Chat),
    ];

    /// Decomposes `text` (NFD), as some keyboards send it.
    fn nfd(text: &str) -> String {
        text.nfd().collect()
    }

    #[test]
    fn reads_the_table() {
        assert!(CASES.len() >= 120, "only {} cases", CASES.len());
        for &(text, want) in CASES {
            assert_eq!(parse(text), want.intent(), "parse({text:?})");
        }
    }

    #[test]
    fn ignores_normalisation_and_case() {
        for &(text, want) in CASES {
            assert_eq!(parse(&nfd(text)), want.intent(), "parse(NFD {text:?})");
            assert_eq!(parse(&text.to_uppercase()), want.intent(), "parse(upper {text:?})");
            assert_eq!(parse(&text.to_lowercase()), want.intent(), "parse(lower {text:?})");
        }
    }

    #[test]
    fn quantities_stop_at_the_maximum() {
        assert_eq!(parse(&format!("chốt {MAX_CHAT_QTY}")), Order(MAX_CHAT_QTY, None).intent());
        assert_eq!(parse(&format!("chốt {}", MAX_CHAT_QTY + 1)), None);
        assert_eq!(parse(&format!("A7 x{MAX_CHAT_QTY}")), Order(MAX_CHAT_QTY, Some("A7")).intent());
        for qty in 1..=MAX_CHAT_QTY {
            assert_eq!(parse(&format!("lấy {qty} hũ")), Order(qty, None).intent(), "lấy {qty} hũ");
        }
    }

    #[test]
    fn reads_every_code_shape() {
        for letter in ('a'..='z').filter(|&c| c != 'x') {
            for number in 1..=99 {
                let code = format!("{}{number}", letter.to_ascii_uppercase());
                let want = Some(ChatIntent::Order { qty: 1, code: Some(code.clone()) });
                assert_eq!(parse(&format!("{letter}{number}")), want, "{letter}{number}");
                assert_eq!(parse(&format!("chốt {code}")), want, "chốt {code}");
            }
        }
    }

    #[test]
    fn counts_words_after_folding() {
        let longest = "lấy cho em 2 hũ A1 nha shop";
        assert_eq!(fold(longest).split_whitespace().count(), MAX_WORDS);
        assert_eq!(parse(longest), Order(2, Some("A1")).intent());
        assert_eq!(parse(&format!("{longest} ơi")), None);
        assert_eq!(parse(&format!("{longest} ❤️🔥!!")), Order(2, Some("A1")).intent());
    }

    #[test]
    fn question_words_are_folded() {
        for word in QUESTION_WORDS {
            assert_eq!(fold(word), *word);
            assert_eq!(parse(&format!("chốt 2 {word}")), None, "chốt 2 {word}");
        }
    }

    /// A small deterministic pseudo-random generator (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % u64::try_from(n).unwrap_or(1)).unwrap_or(0)
        }
    }

    const PIECES: &[&str] = &[
        "chốt",
        "chot",
        "lấy",
        "mua",
        "đặt",
        "hủy",
        "huỷ",
        "đơn",
        "cho",
        "em",
        "A1",
        "b12",
        "x",
        "X",
        "2",
        "0",
        "99",
        "100",
        "hai",
        "năm",
        "hũ",
        "sản",
        "phẩm",
        "nha",
        "ạ",
        "à",
        "ơi",
        "shop",
        "?",
        "-",
        ".",
        ",",
        "+",
        "*",
        "k",
        "đ",
        "₫",
        "%",
        " ",
        "  ",
        "\t",
        "❤️",
        "🔥",
        "👨\u{200D}👩\u{200D}👧",
        "2️⃣",
        "\u{200B}",
        "\u{0301}",
        "\u{0323}",
        "\u{FE0F}",
        "İ",
        "ß",
        "Ǆ",
        "٣",
        "２",
        "a",
        "ă",
        "ư",
        "Đ",
        "e\u{0302}\u{0301}",
        "\u{E0041}",
        "\u{0000}",
        "\n",
        "0912345678",
        "99.000đ",
        "1.5",
        "-1",
        "a1x2",
        "2xa1",
        "xx",
        "1x",
        "a0",
        "z99",
        "4294967296",
    ];

    const CHARS: &[char] = &[
        'a',
        'x',
        'd',
        'đ',
        'ơ',
        'ư',
        'ạ',
        'ỷ',
        '0',
        '1',
        '9',
        ' ',
        '.',
        '-',
        '?',
        '\u{0300}',
        '\u{0303}',
        '\u{200D}',
        '🍯',
        '\u{10FFFF}',
        '\u{FFFD}',
        'Ω',
        '中',
    ];

    #[test]
    fn never_panics_and_keeps_its_promises() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..rng.below(12) {
                if rng.below(4) == 0 {
                    text.push(CHARS[rng.below(CHARS.len())]);
                } else {
                    text.push_str(PIECES[rng.below(PIECES.len())]);
                }
                if rng.below(2) == 0 {
                    text.push(' ');
                }
            }
            let intent = parse(&text);
            assert_eq!(parse(&nfd(&text)), intent, "NFD of {text:?}");
            if let Some(ChatIntent::Order { qty, code }) = &intent {
                assert!((1..=MAX_CHAT_QTY).contains(qty), "{text:?} gives {qty}");
                if let Some(code) = code {
                    let (letter, number) = code.split_at(1);
                    assert!(letter.chars().all(|c| c.is_ascii_uppercase() && c != 'X'), "{text:?} gives {code}");
                    assert!(number.parse::<u32>().is_ok_and(|n| (1..=99).contains(&n)), "{text:?} gives {code}");
                    assert!(!number.starts_with('0'), "{text:?} gives {code}");
                }
            }
            if intent.is_some() {
                assert!(!text.contains('?'), "{text:?} is a question");
                assert!(fold(&text).split_whitespace().count() <= MAX_WORDS, "{text:?} is too long");
            }
        }
    }
}
