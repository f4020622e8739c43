// recorder-depot timeline: the arrow keys move focus between the bars of a day (Home/End: first/last),
// up and down between days; Enter follows the focused bar's link as any link does.
(function () {
  const timeline = document.getElementById('timeline');
  if (!timeline) return;
  timeline.addEventListener('keydown', function (event) {
    const current = document.activeElement;
    if (!current || !current.classList.contains('bar')) return;
    const track = current.parentElement;
    const bars = Array.from(track.querySelectorAll('a.bar'));
    const i = bars.indexOf(current);
    let next = null;
    if (event.key === 'ArrowRight') next = bars[i + 1];
    else if (event.key === 'ArrowLeft') next = bars[i - 1];
    else if (event.key === 'Home') next = bars[0];
    else if (event.key === 'End') next = bars[bars.length - 1];
    else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      const day = track.closest('.day');
      const other = event.key === 'ArrowDown' ? day.nextElementSibling : day.previousElementSibling;
      if (other) next = other.querySelector('a.bar');
    }
    if (next) {
      next.focus();
      event.preventDefault();
    }
  });
}());
