"""Reading Windows event XML in the EVTX tests (t_evtx_diff.py, t_evtx_rs_samples.py): the
event namespace, tag names without it, an element's leaves in document order, and an event's
data fields."""

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


def event_data(ev):
    """[name, text] of the event's data fields, in order, as the readers yield them
    (src/parse/event.h): EventData's Data elements by Name, UserData's leaves by element name.
    Other EventData children (the classic events' <Binary>) and other sections
    (ProcessingErrorData, RenderingInfo) are not fields (docs/fields.md)."""
    out = []
    for sec in ev:
        n = local(sec.tag)
        if n == "EventData":
            out += [[d.get("Name", ""), d.text or ""] for d in sec if local(d.tag) == "Data"]
        elif n == "UserData":
            for d in sec:
                leaves(d, out)
    return out
