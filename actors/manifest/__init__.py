"""The uploaded CSV read into products and image slots (contract §2).

Two readers, both pure, both raising `errors.ManifestError`, which says what is wrong and where:
- `parser.parse_manifest`: bytes in, a `Manifest` out (every row and slot); the split and the
  output CSVs read the file this way.
- `summary.summarise_file`: the same checks on a stored file read in bounded chunks, keeping
  only the counts (the API's needs), so its memory does not grow with the file.
They share the layers in between: `decoding` (bytes to text), `records` (text to CSV records,
and the delimiter), `header` (which column holds what) and `rows` (a record to its product and
image slots).

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
