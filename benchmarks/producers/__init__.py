"""PDF briefs made by real programs (pdfLaTeX, LibreOffice, Chromium, WeasyPrint, fpdf2),
each with the text it was made from, for the reading-order benchmark of issue 22."""
