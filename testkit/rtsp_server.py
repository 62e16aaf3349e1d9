"""An RTSP server on loopback for the tests: GStreamer's gst-rtsp-server (Debian: gir1.2-gst-rtsp-server-1.0,
gstreamer1.0-plugins-base and -good, python3-gi) serving a folder of JPEG frames, looped, as RTP/JPEG at a
fixed rate. It runs under the system Python (python3-gi is not in the venv); testkit.rtsp starts it.

    /usr/bin/python3 testkit/rtsp_server.py --port 8554 --frames DIR --fps 10 --path /cam --width 768 --height 576

Prints `READY rtsp://127.0.0.1:<port><path>` once it listens; runs until SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--frames", required=True, help="folder of %%05d.jpg frames")
    p.add_argument("--fps", type=int, default=10)
    p.add_argument("--path", default="/cam")
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--height", type=int, required=True)
    args = p.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    frames = [f.read_bytes() for f in sorted(Path(args.frames).glob("*.jpg"))]
    if not frames:
        print(f"no JPEG frames in {args.frames}", file=sys.stderr, flush=True)
        return 1
    factory = GstRtspServer.RTSPMediaFactory()
    # a live source: the frames leave at the clip's own rate, stamped as they go, like a camera's
    factory.set_launch(
        "( appsrc name=src is-live=true do-timestamp=true format=time "
        f'caps="image/jpeg,width={args.width},height={args.height},framerate={args.fps}/1" '
        "! rtpjpegpay name=pay0 pt=26 )"
    )
    factory.set_shared(True)  # one pipeline for every client, like a camera
    position = [0]

    def configure(_factory, media) -> None:
        src = media.get_element().get_by_name("src")

        def push() -> bool:
            data = frames[position[0] % len(frames)]
            position[0] += 1
            return src.emit("push-buffer", Gst.Buffer.new_wrapped(data)) == Gst.FlowReturn.OK

        GLib.timeout_add(int(1000 / args.fps), push)

    factory.connect("media-configure", configure)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print(f"READY rtsp://127.0.0.1:{args.port}{args.path}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
