"""Pages the loopback web site serves in the URL-source tests: about a law the curated corpus never mentions, so a
question about it is refused before the page is added and answered from the page after."""

from __future__ import annotations

ACT_TITLE = "Veltania passes the Algorithmic Audit Act"
ACT_PUBLISHER = "Veltania Policy Review"
ACT_DATE = "2025-03-14"
ACT_QUESTION = "What does the Veltania Algorithmic Audit Act require of chatbot vendors?"
ACT_ANSWER = "It requires chatbot vendors to publish an independent algorithmic audit every year [1]."
ACT_FACT = "publish an independent algorithmic audit every year"


def act_html(extra: str = "") -> str:
    """A news page with the title, date and publisher in its meta tags, and boilerplate around the article."""
    return f"""<!doctype html>
<html lang="en"><head>
<meta charset="utf-8">
<title>{ACT_TITLE} | {ACT_PUBLISHER}</title>
<meta property="og:title" content="{ACT_TITLE}">
<meta property="og:site_name" content="{ACT_PUBLISHER}">
<meta name="date" content="{ACT_DATE}">
<meta property="article:published_time" content="{ACT_DATE}T09:00:00Z">
</head><body>
<nav><a href="/">Home</a> <a href="/about">About us</a> <a href="/subscribe">Subscribe</a></nav>
<article>
<h1>{ACT_TITLE}</h1>
<p>The parliament of Veltania passed the Algorithmic Audit Act on Friday. Under the Veltania Algorithmic Audit Act,
chatbot vendors must {ACT_FACT} and file it with the national data protection office.</p>
<p>Vendors that fail to file the algorithmic audit face fines of up to four percent of their annual turnover in
Veltania. The audit covers training data provenance, safety testing and the handling of complaints.</p>
<p>The act takes effect in January, and small vendors with fewer than ten employees are exempt from the audit
requirement for the first two years. {extra}</p>
</article>
<footer>Copyright {ACT_PUBLISHER}. All rights reserved.</footer>
</body></html>"""


NOTES_TEXT = (
    "Field notes on Veltania's chatbot registry.\n\n"
    "Every chatbot vendor operating in Veltania must enter its models in the public chatbot registry before launch.\n"
)
REPORT_PAGES = ["Veltania compute threshold report.", "Models trained above ten to the twenty-fifth FLOP register."]
