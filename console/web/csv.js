// Reading a CSV file as extdir invite reads it (Go's encoding/csv, one
// record per row, any number of cells): quoted cells may hold the
// delimiter, quotes ("") and line breaks; a carriage return before a line
// break is dropped; empty lines are skipped; a quote inside an unquoted
// cell, or a quoted cell that does not end where the cell does, is an error.

// delimiter is taken from the header line as extdir invite takes it:
// semicolons when it has more of them than commas (as spreadsheets in many
// locales write), tabs likewise, commas otherwise.
export function delimiter(text) {
  const nl = text.indexOf("\n");
  const first = nl < 0 ? text : text.slice(0, nl);
  const n = (c) => first.split(c).length - 1;
  const commas = n(","), semis = n(";"), tabs = n("\t");
  if (semis > commas && semis >= tabs) return ";";
  if (tabs > commas && tabs > semis) return "\t";
  return ",";
}

export class CSVError extends Error {}

// records yields [cells, line] for each record, line being the line it
// starts on (the first is line 1).
export function* records(text, comma) {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let i = 0, line = 1;
  const n = text.length;
  while (i < n) {
    // Empty lines are no records.
    if (text[i] === "\n") { i++; line++; continue; }
    if (text[i] === "\r" && text[i + 1] === "\n") { i += 2; line++; continue; }
    const start = line;
    const cells = [];
    for (;;) {
      let cell = "";
      if (text[i] === '"') {
        const quoteLine = line, quoteCol = col(text, i);
        i++;
        for (;;) {
          if (i >= n) throw new CSVError(`parse error on line ${quoteLine}, column ${quoteCol}: extraneous or missing " in quoted-field`);
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') { cell += '"'; i += 2; continue; }
            i++;
            break;
          }
          if (c === "\r" && text[i + 1] === "\n") { cell += "\n"; i += 2; line++; continue; }
          if (c === "\n") line++;
          cell += c;
          i++;
        }
        const after = text[i];
        if (!(i >= n || after === comma || after === "\n" || (after === "\r" && text[i + 1] === "\n"))) {
          throw new CSVError(`parse error on line ${line}, column ${col(text, i)}: extraneous or missing " in quoted-field`);
        }
      } else {
        while (i < n && text[i] !== comma && text[i] !== "\n" && !(text[i] === "\r" && text[i + 1] === "\n")) {
          if (text[i] === '"') throw new CSVError(`parse error on line ${line}, column ${col(text, i)}: bare " in non-quoted-field`);
          cell += text[i];
          i++;
        }
      }
      cells.push(cell);
      if (i < n && text[i] === comma) { i++; continue; }
      if (text[i] === "\r") i++;
      if (text[i] === "\n") { i++; line++; }
      break;
    }
    yield [cells, start];
  }
}

function col(text, i) {
  const nl = text.lastIndexOf("\n", i - 1);
  return i - nl;
}

// toCSV writes rows (arrays of cells) as CSV, quoting a cell when it must.
export function toCSV(rows) {
  return rows.map((r) => r.map((c) => {
    const s = c === null || c === undefined ? "" : String(c);
    return /[",\r\n]/.test(s) || s.startsWith(" ") || s.endsWith(" ") ? '"' + s.replaceAll('"', '""') + '"' : s;
  }).join(",")).join("\n") + "\n";
}
