"""Web planters (vsdpo.evaluate.web_planting): pure text transforms of HTML pages."""

from __future__ import annotations

import pytest

from vsdpo.evaluate.web_planting import WEB_PLANTERS, plant_page

PAGE = "<html>\r\n<head><title>t</title></head>\r\n<body class='x'>\r\n<h2>Title\r\n</h2>\r\n<p>text</p>\r\n</body>\r\n</html>\r\n"


@pytest.mark.parametrize("name", list(WEB_PLANTERS))
def test_planted_lines_are_whole_new_lines_and_the_rest_maps_back(name):
    planted = plant_page(name, PAGE)
    assert planted is not None and planted.planter == name
    copy = planted.source.split("\r\n")
    original = PAGE.split("\r\n")
    for n, line in enumerate(copy, 1):
        back = planted.original_line(n)
        if n in planted.lines:
            assert back is None and line not in original
        else:
            assert original[back - 1] == line
    assert len(copy) == len(original) + len(planted.lines)


def test_where_the_plants_go():
    assert plant_page("wide_element", PAGE).lines == (4,)  # the line after <body>
    # inside the heading, just before its end tag when that has a line of its own
    assert plant_page("over_heading", PAGE).lines == (5, 6)
    one_line = "<html><body>\n<h1>Title</h1><p>more</p>\n<p>text</p>\n</body></html>"
    assert plant_page("over_heading", one_line).lines == (3, 4)  # else the line after it
    assert "z-index: 10" in plant_page("over_heading", one_line).source
    assert plant_page("over_heading", "<html><body><p>no heading</p></body></html>") is None
    assert plant_page("narrow_box", "<p>no body tag at all</p>") is None
