"""Writes N matching Sysmon EventID 1 events (`net share sI`, one group each of the seed search)
as XML lines to standard output; with PAD, each command line also carries PAD bytes of 'x'.
Used by t_groups.sh and t_exec_memory.sh: python3 net_share_events.py N [PAD]"""
import sys

n = int(sys.argv[1])
pad = "x" * (int(sys.argv[2]) if len(sys.argv) > 2 else 0)
pre = ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
       "<Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID>"
       "<TimeCreated SystemTime='2020-12-09T18:21:05.120Z'/><Computer>h</Computer></System>"
       "<EventData><Data Name='Image'>C:\\Windows\\System32\\net.exe</Data><Data Name='User'>u</Data>"
       "<Data Name='CommandLine'>net share s")
post = "</Data></EventData></Event>\n"
buf = []
for i in range(n):
    buf.append(pre + str(i) + pad + post)
    if len(buf) * (len(pad) + 400) > (1 << 24) or len(buf) == 20000:
        sys.stdout.write("".join(buf))
        buf = []
sys.stdout.write("".join(buf))
