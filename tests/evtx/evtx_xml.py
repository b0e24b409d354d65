"""Reading Windows event XML in the EVTX tests (t_evtx_diff.py, t_evtx_rs_samples.py): the
event namespace, tag names without it, and an element's leaves in document order."""

NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"


def local(tag):
    return tag.split("}", 1)[1] if tag.startswith("{") else tag


def leaves(el, out):
    """Append [name, text] for every element under el that has no children."""
    kids = list(el)
    if not kids:
        out.append([local(el.tag), el.text or ""])
        return
    for k in kids:
        leaves(k, out)
