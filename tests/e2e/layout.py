"""Layout checks for small screens: the page does not scroll sideways, nothing covers the navigation,
and the page's main action can be reached and pressed."""

# The links and controls of the header and of every navigation that are drawn on the screen (an
# element moved off-screen on purpose, like the skip link until it has focus, is not), each scrolled
# into view and hit-tested at its centre: the element on top there must be the control itself.
COVERED_OR_CLIPPED_CONTROLS = """() => {
  const controls = document.querySelectorAll(
    "header a, header button, header select, nav a, nav button, nav select, #header a, #header button");
  const problems = [];
  for (const el of controls) {
    let box = el.getBoundingClientRect();
    if (box.width < 2 || box.height < 2 || box.right <= 0 || getComputedStyle(el).visibility === "hidden") continue;
    el.scrollIntoView({block: "center", inline: "nearest"});
    box = el.getBoundingClientRect();
    const name = (el.innerText || el.getAttribute("aria-label") || el.tagName).trim().replace(/\\s+/g, " ");
    if (box.left < 0 || box.right > document.documentElement.clientWidth + 1) {
      problems.push(`"${name}" is cut off at the side of the screen`);
      continue;
    }
    const top = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    if (top && !el.contains(top) && !top.contains(el)) {
      problems.push(`"${name}" is covered by <${top.tagName.toLowerCase()} class="${top.className}">`);
    }
  }
  window.scrollTo(0, 0);
  return problems;
}"""

SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"

# The admin center's navigation and the main content must not share any pixel.
NAVIGATION_OVERLAPS_MAIN = """() => {
  const nav = document.querySelector("nav.sidenav"), main = document.querySelector("main");
  if (!nav || !main) return false;
  const a = nav.getBoundingClientRect(), b = main.getBoundingClientRect();
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}"""


def layout_problems(page, action):
    """What keeps this page from being read and used on the current screen: a list of sentences."""
    problems = []
    overflow = page.evaluate(SIDEWAYS_SCROLL)
    if overflow > 0:
        problems.append(f"the page scrolls sideways by {overflow}px")
    if page.evaluate(NAVIGATION_OVERLAPS_MAIN):
        problems.append("the navigation overlaps the main content")
    problems += page.evaluate(COVERED_OR_CLIPPED_CONTROLS)
    if action is not None:
        problems += action_problems(page, action)
    return problems


def action_problems(page, action):
    if not action.is_visible():
        return ["the main action is not shown"]
    action.scroll_into_view_if_needed()
    box = action.bounding_box()
    width = page.evaluate("document.documentElement.clientWidth")
    if box["x"] < 0 or box["x"] + box["width"] > width + 1:
        return ["the main action is cut off at the side of the screen"]
    try:
        # Playwright's own checks before a click (visible, stable, enabled, not covered), without clicking.
        action.click(trial=True, timeout=3000)
    except Exception as error:  # noqa: BLE001 - the reason is the finding
        return [f"the main action cannot be pressed: {str(error).splitlines()[0]}"]
    finally:
        page.evaluate("window.scrollTo(0, 0)")
    return []
