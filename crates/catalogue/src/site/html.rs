//! HTML text: escaping, and the frame every page shares.

/// `text` safe inside HTML text and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `segment` as one URL path segment (percent-encoding all but unreserved characters).
pub fn url(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A whole page: `title`, the stylesheet and scripts at `root` (the relative path to the site's
/// top, `""`, `"../"` or `"../../"`), the search box, the `header` and `body` HTML.
pub fn page(title: &str, root: &str, header: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{root}assets/site.css">
<script src="{root}assets/layers.js" defer></script>
<script src="{root}assets/site.js" defer></script>
</head>
<body>
<header><form class="search" role="search" data-root="{root}"><input type="search" name="q" list="excite-layers" placeholder="layer:channel" aria-label="Find a unit by layer and channel"><datalist id="excite-layers"></datalist><output></output></form>{header}</header>
<main>{body}</main>
<footer>Made by excite: renders by gradient ascent on the input image. Left and right arrow keys: previous and next.</footer>
</body>
</html>
"#,
        title = escape(title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_break_out_of_text_or_urls() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(url("blocks.5/conv 1?#"), "blocks.5%2Fconv%201%3F%23");
    }
}
