"""Clinical measures from landmark arrays: pure numpy, no I/O, vectorised over frames.

Inputs are arrays whose last axis holds coordinates: image points ``(..., 2)`` in pixels
(x right, y down, as MediaPipe's normalised x, y times width, height — never normalised
coordinates, whose two axes have different scales), world points ``(..., 3)`` in metres.
Leading axes (frames, ...) broadcast. Angles are in degrees. A measure that cannot be computed
(a degenerate segment, a missing landmark) is NaN.

Conventions ("left"/"right" are always the subject's):

* FPPA, frontal-plane projection angle (Willson & Davis 2008; Munro et al. 2012): the angle between
  the thigh (hip→knee) and the shank (knee→ankle), 0° for a straight leg, **positive = valgus**:
  the knee lies on the same side of the hip–ankle line as the other hip (medial). Deciding
  "medial" from the pelvis makes the sign independent of which way the person faces and of
  mirroring.
* Pelvic obliquity: tilt of the hip line from the image horizontal, positive when the subject's
  left hip is higher in the image.
* Trunk lean: angle of the mid-hip→mid-shoulder line from the image vertical, positive toward the
  subject's left.
* Knee flexion: 3D angle between thigh and shank (0° = straight).
"""

from __future__ import annotations

import numpy as np


def _cross2(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def angle_between_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Unsigned angle 0..180° between vectors ``u`` and ``v`` (last axis = coordinates)."""
    u = np.asarray(u, dtype=float)
    v = np.asarray(v, dtype=float)
    nu = np.linalg.norm(u, axis=-1)
    nv = np.linalg.norm(v, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.sum(u * v, axis=-1) / (nu * nv)
        out = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return np.where((nu > 0) & (nv > 0), out, np.nan)


def fppa_deg(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, other_hip: np.ndarray) -> np.ndarray:
    """Signed frontal-plane projection angle of one leg in the image (see module docstring).

    ``other_hip`` is the contralateral hip: it defines the medial side. 0° for a straight leg;
    + = valgus (knee medial to the hip–ankle line), − = varus.
    """
    hip, knee, ankle, other_hip = (np.asarray(a, dtype=float) for a in (hip, knee, ankle, other_hip))
    magnitude = angle_between_deg(knee - hip, ankle - knee)
    axis = ankle - hip
    side_knee = np.sign(_cross2(axis, knee - hip))
    side_medial = np.sign(_cross2(axis, other_hip - hip))
    return magnitude * np.where(side_knee == 0, 1.0, side_knee * side_medial)


def facing_sign(left_hip: np.ndarray, right_hip: np.ndarray) -> np.ndarray:
    """+1 where the subject's left hip is on the image right (facing the camera, unmirrored),
    −1 where it is on the image left (back to the camera, or a mirrored image), 0 if level."""
    return np.sign(np.asarray(left_hip, float)[..., 0] - np.asarray(right_hip, float)[..., 0])


def pelvic_obliquity_deg(left_hip: np.ndarray, right_hip: np.ndarray) -> np.ndarray:
    """Hip-line tilt from the image horizontal; + = subject's left hip higher (image y is down)."""
    left_hip, right_hip = np.asarray(left_hip, float), np.asarray(right_hip, float)
    dy = right_hip[..., 1] - left_hip[..., 1]
    dx = np.abs(left_hip[..., 0] - right_hip[..., 0])
    return np.degrees(np.arctan2(dy, dx))


def trunk_lean_deg(left_hip, right_hip, left_shoulder, right_shoulder) -> np.ndarray:
    """Mid-hip→mid-shoulder line from the image vertical; + = toward the subject's left."""
    mid_hip = (np.asarray(left_hip, float) + np.asarray(right_hip, float)) / 2
    mid_sh = (np.asarray(left_shoulder, float) + np.asarray(right_shoulder, float)) / 2
    d = mid_sh - mid_hip
    toward_image_right = np.degrees(np.arctan2(d[..., 0], -d[..., 1]))
    s = facing_sign(left_hip, right_hip)
    return toward_image_right * np.where(s == 0, 1.0, s)


def knee_flexion_deg(hip_xyz: np.ndarray, knee_xyz: np.ndarray, ankle_xyz: np.ndarray) -> np.ndarray:
    """3D knee flexion: angle between thigh (hip→knee) and shank (knee→ankle); 0° = straight."""
    hip_xyz, knee_xyz, ankle_xyz = (np.asarray(a, float) for a in (hip_xyz, knee_xyz, ankle_xyz))
    return angle_between_deg(knee_xyz - hip_xyz, ankle_xyz - knee_xyz)


def knee_separation_ratios(left_knee, right_knee, left_ankle, right_ankle, left_hip, right_hip
                           ) -> tuple[np.ndarray, np.ndarray]:
    """(knee distance / ankle distance, knee distance / hip distance), horizontal image distances.

    A knee-to-ankle ratio falling below its standing value during a double-leg squat is the
    knees moving together (medial collapse) independent of depth (Barber-Westin et al. 2005 use
    the knee-to-ankle separation in drop jumps).
    """
    kx = np.abs(np.asarray(left_knee, float)[..., 0] - np.asarray(right_knee, float)[..., 0])
    ax = np.abs(np.asarray(left_ankle, float)[..., 0] - np.asarray(right_ankle, float)[..., 0])
    hx = np.abs(np.asarray(left_hip, float)[..., 0] - np.asarray(right_hip, float)[..., 0])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ax > 0, kx / ax, np.nan), np.where(hx > 0, kx / hx, np.nan)


def foot_turnout_from_image_deg(toe_lateral_px, foot_length_px, yaw_deg, side: str) -> np.ndarray:
    """A foot's turn-out in the body frame (+ = toes out) from its standing image: the toe's
    sideways offset from the ankle (+ = lateral, image pixels) over the ankle→toe length.

    Seen from a camera at ``yaw_deg`` (+ = toward the subject's left, :func:`camera_to_body`), a
    foot turned out by θ shows sideways as ``L·sin(θ − yaw)`` (left foot) or ``L·sin(θ + yaw)``
    (right foot): a left foot turned out by exactly the camera's yaw points at the camera.

    >>> round(float(foot_turnout_from_image_deg(0.0, 10.0, 20.0, "left")), 1)
    20.0
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        seen = np.degrees(np.arcsin(np.clip(np.asarray(toe_lateral_px, float) / foot_length_px, -0.9, 0.9)))
    return seen + yaw_deg if side == "left" else seen - yaw_deg


def knee_over_foot_path(knee_cam, ankle_cam, standing_knee_from_ankle, yaw_deg, turnout_deg, side: str
                        ) -> np.ndarray:
    """How far the knee has moved inside (+, medial) the path of a knee that tracks over the foot,
    since standing, perpendicular to the foot's axis; in the unit of the camera-frame points.

    A knee that "tracks over the 2nd–3rd toe" moves, as it bends, forward along the foot's axis,
    which with turned-out feet is well outside the ankle: a knee over the ankle is already caving
    in. The knee's displacement from the ankle since standing (camera frame, e.g. from
    :func:`lift_leg`; ``standing_knee_from_ankle`` is its standing value) is turned into the body
    frame (:func:`camera_to_body`, the camera ``yaw_deg`` off the body's front) and projected on the
    horizontal normal of the foot's axis (turned out ``turnout_deg``, + = toes out), pointing to
    the midline. Standing, it is 0 whatever the stance width.

    >>> # a left knee 10 forward over a foot turned out 30°: on the path when it moved 10·tan 30° out
    >>> k = np.array([10 * np.tan(np.radians(30)), 0.0, -10.0]); a = np.zeros(3)
    >>> abs(round(float(knee_over_foot_path(k, a, np.zeros(3), 0.0, 30.0, "left")), 6))
    0.0
    >>> # the same knee straight forward (no sideways move): 10·sin 30° = 5 inside the path
    >>> round(float(knee_over_foot_path(np.array([0, 0, -10.0]), a, np.zeros(3), 0.0, 30.0, "left")), 3)
    5.0
    """
    d = np.asarray(knee_cam, float) - np.asarray(ankle_cam, float) - np.asarray(standing_knee_from_ankle, float)
    body = camera_to_body(d, yaw_deg)
    lateral = body[..., 0] if side == "left" else -body[..., 0]  # + = away from the midline
    forward = body[..., 1]
    th = np.radians(np.asarray(turnout_deg, float))
    return forward * np.sin(th) - lateral * np.cos(th)


def foot_turnout_deg(heel, foot_index, hip, other_hip) -> np.ndarray:
    """Image angle of the heel→toe line from the image vertical, + = toe pointing laterally
    (away from the other hip). In a frontal view the foot is foreshortened; this is the screening
    "duck feet" sign, not an anatomical foot progression angle."""
    heel, foot_index, hip, other_hip = (np.asarray(a, float) for a in (heel, foot_index, hip, other_hip))
    d = foot_index - heel
    lateral_dir = np.sign(hip[..., 0] - other_hip[..., 0])
    return np.degrees(np.arctan2(d[..., 0] * lateral_dir, np.abs(d[..., 1]) + 1e-9))


def body_height_px(nose, left_ankle, right_ankle) -> np.ndarray:
    """Nose to mid-ankle image distance: the body-size scale used by the trust gates."""
    mid_ankle = (np.asarray(left_ankle, float) + np.asarray(right_ankle, float)) / 2
    return np.linalg.norm(np.asarray(nose, float) - mid_ankle, axis=-1)


def torso_length_px(left_hip, right_hip, left_shoulder, right_shoulder) -> np.ndarray:
    mid_hip = (np.asarray(left_hip, float) + np.asarray(right_hip, float)) / 2
    mid_sh = (np.asarray(left_shoulder, float) + np.asarray(right_shoulder, float)) / 2
    return np.linalg.norm(mid_sh - mid_hip, axis=-1)


def width_ratio(left_hip, right_hip, left_shoulder, right_shoulder) -> np.ndarray:
    """Mean of the image shoulder and hip widths over the torso length: ≈ 0.5–0.8 seen from the
    front, → 0 from the side. The view check's input."""
    lh, rh, ls, rs = (np.asarray(a, float) for a in (left_hip, right_hip, left_shoulder, right_shoulder))
    w = (np.abs(ls[..., 0] - rs[..., 0]) + np.abs(lh[..., 0] - rh[..., 0])) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return w / torso_length_px(lh, rh, ls, rs)


def classify_view(ratio: float, frontal_min: float = 0.35, sagittal_max: float = 0.15) -> str:
    """'frontal', 'oblique' or 'sagittal' from a (median) :func:`width_ratio`."""
    if not np.isfinite(ratio):
        return "unknown"
    if ratio >= frontal_min:
        return "frontal"
    return "sagittal" if ratio <= sagittal_max else "oblique"


def camera_roll_deg(left_ankle, right_ankle, left_shoulder, right_shoulder) -> float:
    """Camera roll from standing-baseline frames: the median tilt of the mid-ankle→mid-shoulder
    line from the image vertical, + = toward the image right (a person standing still is upright,
    so what tilts is the camera). On the synthetic set this is within 0.3° of the true roll at
    yaw ≤ 20° (the floor line through the feet is not: perspective tilts it by up to 14°).
    An image rotated by +roll adds −roll to the pelvic obliquity and +roll to the image trunk lean.
    """
    mid_ankle = (np.asarray(left_ankle, float) + np.asarray(right_ankle, float)) / 2
    mid_sh = (np.asarray(left_shoulder, float) + np.asarray(right_shoulder, float)) / 2
    d = mid_sh - mid_ankle
    return float(np.nanmedian(np.degrees(np.arctan2(d[..., 0], -d[..., 1]))))


def hip_joint_centres(left_hip, right_hip, width_scale=1.19, yaw_shift=0.0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Hip joint centres from MediaPipe's two hip points: the hip line widened about its midpoint
    by ``width_scale`` and both points moved along it by ``yaw_shift`` × the hip vector (left −
    right); pass ``yaw_shift = c·tan(body yaw)``. Both may be per-frame arrays. MediaPipe's hip points are a surface landmark,
    narrower than the joint centres (0.84× on the synthetic set, 0.74–0.93) and, with the camera
    yawed, shifted toward the far side. Constants fitted on the synthetic set (leave-one-body-out:
    1.15–1.21 and c = 0.28–0.34 for the full model); they cut the image-FPPA error from 4.1° to
    2.8° MAE there (the pipeline now widens by 1.07 + 0.5 × the thigh foreshortening per frame:
    see GateConfig.hip_flexion_widening, docs/accuracy.md). A regression of the joint centre on surface landmarks, as clinical gait labs
    do from pelvic markers; not yet checked on real footage."""
    lh, rh = np.asarray(left_hip, float), np.asarray(right_hip, float)
    mid, half = (lh + rh) / 2, (lh - rh) / 2
    shift = np.asarray(yaw_shift, float)[..., None] * (lh - rh)
    k = np.asarray(width_scale, float)[..., None]  # a number or one per frame
    return mid + k * half + shift, mid - k * half + shift


def _ray_depth_for_length(ray: np.ndarray, anchor: np.ndarray, length: np.ndarray, near: bool) -> np.ndarray:
    """Point on ``ray`` (through the camera centre) at distance ``length`` from ``anchor``: the
    root of |z·ray − anchor| = length nearer to (``near``) or farther from the camera. Where the
    segment is seen longer than ``length`` (noise) the closest point of the ray is used."""
    a = np.sum(ray * ray, axis=-1)
    b = -2.0 * np.sum(ray * anchor, axis=-1)
    c = np.sum(anchor * anchor, axis=-1) - np.asarray(length, float) ** 2
    root = np.sqrt(np.clip(b * b - 4 * a * c, 0.0, None))
    z = (-b - root) / (2 * a) if near else (-b + root) / (2 * a)
    return ray * z[..., None]


def lift_leg(hip_px, knee_px, ankle_px, thigh_len_px, shank_len_px, focal_px: float, center_px
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Single-view 3D reconstruction of one leg with known segment lengths, pinhole camera
    (Taylor 2000, extended to perspective). Returns camera-frame points (x right, y down, z away
    from the camera), in pixels at the standing depth: the ankle stays on the floor, so it is
    placed at depth ``focal_px``; the knee is the point of its ray ``shank_len_px`` from the
    ankle and nearer the camera (in a squat the knee travels forward), the hip the point of its
    ray ``thigh_len_px`` from the knee and farther from the camera (the hips sit back).
    Segment lengths are the standing image lengths (a standing leg is square to the camera).
    Checked against the synthetic ground truth's exact joints and camera: the frontal-plane FPPA
    of the reconstruction is within 0.4–0.9° of the truth at yaw 0–30°."""
    c = np.asarray(center_px, float)
    f = float(focal_px)

    def ray(p):
        p = np.asarray(p, float) - c
        return np.concatenate([p, np.full(p.shape[:-1] + (1,), f)], axis=-1)

    ankle = ray(ankle_px)
    knee = _ray_depth_for_length(ray(knee_px), ankle, shank_len_px, near=True)
    hip = _ray_depth_for_length(ray(hip_px), knee, thigh_len_px, near=False)
    return hip, knee, ankle


def camera_to_body(xyz_cam: np.ndarray, yaw_deg) -> np.ndarray:
    """Rotate camera-frame points (x right, y down, z away) into the body frame (x = subject's
    left, y = forward, z = up) for a camera at ``yaw_deg`` from the body's front (+ = camera moved
    toward the subject's left), level and unmirrored."""
    th = np.radians(np.asarray(yaw_deg, float))[..., None]
    x, y, z = xyz_cam[..., 0:1], xyz_cam[..., 1:2], xyz_cam[..., 2:3]
    c, s = np.cos(th), np.sin(th)
    # inverse of world→camera rows (cos, sin, 0), (0, 0, −1), (−sin, cos, 0)
    return np.concatenate([c * x - s * z, -(s * x + c * z), -y], axis=-1)


def fppa_frontal_deg(hip_body, knee_body, ankle_body, other_hip_body) -> np.ndarray:
    """FPPA on the body's frontal plane: the body-frame points (see :func:`camera_to_body`)
    projected orthographically onto it (x = subject's left, z = up); same sign convention as
    :func:`fppa_deg` (+ = valgus)."""
    proj = lambda p: np.stack([np.asarray(p, float)[..., 0], -np.asarray(p, float)[..., 2]], axis=-1)  # noqa: E731
    return fppa_deg(proj(hip_body), proj(knee_body), proj(ankle_body), proj(other_hip_body))
