"""Licence truth on completion: only a licence read from the video itself is kept, and
every row says where its licence came from."""

from ytcorpus.models import Result, Video


def vid(n: int) -> str:
    return f"lic{n:08d}"


def test_only_licences_read_from_the_video_survive_completion(queue):
    cc = "Creative Commons Attribution license (reuse allowed)"
    queue.add([
        Video(vid(1), f"https://youtu.be/{vid(1)}", license=cc),                  # a claim
        Video(vid(2), f"https://youtu.be/{vid(2)}", license=cc, license_source="page"),
        Video(vid(3), f"https://youtu.be/{vid(3)}"),
    ])
    assert {c.video_id for c in queue.claim("w", n=3)} == {vid(1), vid(2), vid(3)}
    queue.complete("w", vid(1), Result(transcript="x"))
    queue.complete("w", vid(2), Result(transcript="x"))
    queue.complete("w", vid(3), Result(transcript="x", license="Standard YouTube License"))
    rows = {i: queue.get(vid(i)) for i in (1, 2, 3)}
    assert (rows[1]["license"], rows[1]["license_source"]) == (None, None)
    assert (rows[2]["license"], rows[2]["license_source"]) == (cc, "page")
    assert (rows[3]["license"], rows[3]["license_source"]) == ("Standard YouTube License",
                                                              "download")
