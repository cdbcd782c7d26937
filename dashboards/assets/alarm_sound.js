/* Audible cue of the alarm console: a short two-tone beep made with the Web Audio API
 * (no sound file), played once when a new critical alarm waits for an operator, unless muted.
 * Loaded by Dash from dashboards/assets; used by a clientside callback (no inline script,
 * so a strict Content-Security-Policy needs no 'unsafe-inline').
 *
 * Browsers start audio only after the user has interacted with the page. Before that the
 * AudioContext is not even created (Chrome would log a warning); a beep due meanwhile is
 * played at the first click on the page, unless the mute toggle is on by then.
 */
(function () {
  "use strict";

  var audio = null;
  var pending = false;
  var MAX_HEARD = 500;

  function canStart() {
    var ua = navigator.userActivation;
    return !ua || ua.hasBeenActive;
  }

  function context() {
    var AC = window.AudioContext || window.webkitAudioContext;
    if (!AC || !canStart()) {
      return null;
    }
    if (audio === null) {
      audio = new AC();
    }
    if (audio.state === "suspended") {
      audio.resume();
    }
    return audio;
  }

  function isMuted() {
    var box = document.querySelector("#alarms-mute input[type=checkbox]");
    return !!(box && box.checked);
  }

  var api = {
    /** How many beeps were played in this page (read by the browser test). */
    played: 0,
    /** Whether a beep waits for the first click on the page. */
    pending: function () {
      return pending;
    },
    /** Ids of ``critical`` not in ``heard``: the alarms to announce. */
    newCritical: function (critical, heard) {
      var ids = Array.isArray(critical) ? critical : [];
      var known = Array.isArray(heard) ? heard : [];
      return ids.filter(function (id) {
        return typeof id === "string" && known.indexOf(id) < 0;
      });
    },
    /** Play one short beep now if the browser lets us, else at the first click. */
    beep: function () {
      var ac = context();
      if (ac === null) {
        pending = true;
        return false;
      }
      pending = false;
      var t = ac.currentTime;
      var osc = ac.createOscillator();
      var gain = ac.createGain();
      osc.type = "square";
      osc.frequency.setValueAtTime(880, t);
      osc.frequency.setValueAtTime(660, t + 0.2);
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.25, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.4);
      osc.connect(gain);
      gain.connect(ac.destination);
      osc.start(t);
      osc.stop(t + 0.42);
      api.played += 1;
      return true;
    }
  };
  window.twinAlarmSound = api;

  document.addEventListener(
    "click",
    function () {
      // after the click's own effects (it may be the mute toggle)
      window.setTimeout(function () {
        if (pending && !isMuted()) {
          api.beep();
        } else if (pending) {
          pending = false;
        }
      }, 0);
    },
    true
  );

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.twin_alarms = {
      /** Clientside callback: beep for new waiting critical alarms; returns [heard ids, sound status]. */
      cue: function (critical, mute, heard) {
        var known = Array.isArray(heard) ? heard.filter(function (id) { return typeof id === "string"; }) : [];
        var fresh = api.newCritical(critical, known);
        var muted = Array.isArray(mute) && mute.indexOf("mute") >= 0;
        if (fresh.length > 0 && !muted) {
          api.beep();
        }
        if (muted) {
          pending = false;
        }
        // announced alarms are remembered while muted too: unmuting does not replay old ones
        var next = known.concat(fresh).slice(-MAX_HEARD);
        var status = muted ? "sound muted" : (pending ? "sound on (click the page once to allow audio)" : "sound on");
        return [next, status];
      }
  };
})();
