"""Shared by the report tests: read an escudo HTML report back.

page_facts(html) parses the page with the standard library's HTML parser and returns what the
tests compare: the counts (elements with an id and data-count), the per-detection notable counts
of the detections table, the elements and the attributes that could load something, the
script elements and the text of the page.
"""
from html.parser import HTMLParser

LOADING_ATTRS = {"src", "href", "xlink:href", "action", "formaction", "srcset", "poster", "data",
                 "background", "ping"}
LOADING_TAGS = {"img", "iframe", "frame", "object", "embed", "link", "audio", "video", "source",
                "track", "base", "form", "input-image", "image", "use", "feimage"}


class Facts(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.counts = {}
        self.det_counts = []
        self.scripts = 0
        self.tags = {}
        self.loading = []      # (tag, attr, value) that would load something
        self.handlers = []     # on* attributes
        self.text = []
        self.meta_csp = None
        self.root_attrs = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "html":
            self.root_attrs = a
        if tag == "script":
            self.scripts += 1
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy":
            self.meta_csp = a.get("content")
        if "id" in a and "data-count" in a:
            self.counts[a["id"]] = int(a["data-count"])
        if tag == "td" and "det-n" in (a.get("class") or "").split():
            self.det_counts.append(int(a["data-v"]))
        for k, v in attrs:
            if k.lower().startswith("on"):
                self.handlers.append((tag, k, v))
            if k.lower() in LOADING_ATTRS and not (v or "").startswith("#"):
                self.loading.append((tag, k, v))
        if tag in LOADING_TAGS:
            self.loading.append((tag, None, None))

    def handle_data(self, data):
        self.text.append(data)


def page_facts(html):
    f = Facts()
    f.feed(html)
    f.close()
    f.all_text = "".join(f.text)
    return f
