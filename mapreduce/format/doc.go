// Package format holds the building blocks of gomr's data formats: the
// engine's input readers and output writers, and jobs, are built from
// them.
//
//   - Compression (Codec): gzip, bzip2 and zstd input by file suffix
//     (CodecFor), gzip and zstd output by name (CompressorFor). No
//     compressed file is splittable: it is one split, as in Hadoop.
//   - Typed schemas (Type, Column, Schema, ParseSchema) and values
//     (Value, ParseValue, FormatValue, CheckValue) with exact text rules,
//     so that ParseValue(FormatValue(v)) == v.
//   - Schema inference from text fields (Inferrer).
//   - CSV (RFC 4180): one record per line for split reads
//     (ParseCSVLine), multi-line records for whole-file reads
//     (CSVReader), and a writer that quotes only where needed
//     (CSVWriter).
//   - JSON lines: an object per line with exact numbers (ParseJSONLine,
//     Field) and a writer of typed rows (JSONLWriter).
//   - Parquet through parquet-go: a writer of typed rows in row groups
//     (ParquetWriter) and a reader that gives a file's schema, the byte
//     ranges of its row groups (one split each) and a row reader per row
//     group (OpenParquet, ParquetFile, ParquetRows).
//   - Rows from a job's text output pairs (RowFromPair, ParsePairSchema).
//
// The decisions behind the value rules:
//
//   - A double is finite: NaN and ±Inf are refused when parsed and when
//     written, so every double has a JSON form and orders totally. The
//     text form is strconv's shortest round-tripping 'g' form.
//   - A boolean is true or false in any case; 1/0, t/f and yes/no are not
//     booleans, so a column of 0s and 1s is inferred as int64.
//   - A timestamp is an instant in UTC with nanosecond precision, within
//     the range of int64 nanoseconds since the Unix epoch (1677 to 2262),
//     which is how Parquet stores it (TIMESTAMP(NANOS), UTC-adjusted). It
//     is read from RFC 3339, from "2006-01-02 15:04:05[.fff]" (UTC unless
//     an offset follows) and from a date alone, and written as RFC 3339
//     with as many fraction digits as it needs.
//   - In text formats the empty field is null; an empty string is not a
//     distinct value there (it reads back as null). Nothing is trimmed.
//
// Readers never trust their input: a truncated or corrupt compressed
// stream, CSV or JSON line, and a truncated Parquet file or one whose
// footer lies, are errors that say what is wrong and where, never a panic,
// a hang, or an allocation sized by a corrupt length.
package format
