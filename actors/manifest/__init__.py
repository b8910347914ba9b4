"""The uploaded CSV read into products and image slots (contract §2).

Pure rules (no broker, Redis or storage here), read through one streaming reader,
`reader.open_manifest`: it checks a stored file's bytes and header, then yields its rows one at
a time, so memory does not grow with the file; `errors.ManifestError` says what is wrong and
where. On top of it: `summary` (the counts and skipped rows the API needs before it opens a
job) and `urls` (the distinct URLs the split turns into images); the output CSV and the report
(`actors.report`) stream from it too. Below it: `decoding` (the bytes are UTF-8), `records`
(text to CSV records, and the delimiter), `header` (which column holds what) and `rows` (a
record to its product and image slots).

Decisions the contract leaves open:
- Blank records (every cell empty after trimming) are not data rows: they are neither processed
  nor reported nor counted against the row limit, but they keep their place in the row
  numbering, as a spreadsheet shows them. Blank lines before the header are allowed.
- Quoting is RFC 4180 and strict (an unclosed quote or text after a closing quote is a 400
  naming the row), except that spaces between a delimiter and an opening quote are skipped, as
  the seed's own sample (`S. No, Product Name, Input URLs`) is written in that style.
- When several header cells match a role, the most specific alias wins ("Product Name" over
  "Name"), then the leftmost column.
"""
