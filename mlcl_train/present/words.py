"""The deck's and the report's own words, in English and Korean.

    say = words("ko"); say("setup")   # '실험 설정'
    say("points", d=41.2)             # '+41.2%p'

Run names, config keys and values are never translated: they are what the student typed.
"""

from __future__ import annotations

from typing import Callable

LANGS = ("en", "ko")

EN = {
    "setup": "Setup: what every run shares",
    "changes": "What each change did",
    "curves": "Test accuracy: the baseline and the best runs",
    "all_curves": "Test accuracy of all runs",
    "confusion": "Confusion matrix: {label}",
    "mistakes": "Most confident mistakes: {label}",
    "findings": "Findings",
    "takeaways": "Takeaways",
    "appendix": "Appendix",
    "appendix_sub": "The comparison table and one slide per run",
    "comparison": "Comparison",
    "compared": "Compared: ",
    "one_run": "One run",
    "one_config": "The runs share one config",
    "on_val": ", chosen on validation",
    "best_line": "Best: {label}, {acc:.2f}% test accuracy (epoch {epoch}{chosen})",
    "date": "%d %B %Y",
    "sweep": "Sweep {name}",
    "sweep_params": "Sweep {name}: accuracy against each swept key",
    "points": "{d:+.1f} points",
    "pairs": "{n} pairs",
    "pair": "1 pair",
    "baseline": "baseline",
    "baseline_is": "Baseline: {label}, {acc:.2f}% test accuracy",
    "best_is": "Best: {label}, {acc:.2f}% ({d:+.1f} points over the baseline)",
    "runs_n": "{n} runs",
    "run_1": "1 run",
    "accuracy": "best test accuracy (%)",
    "epoch": "epoch",
    "dataset": "data set",
    "train_images": "training images",
    "val_images": "validation images",
    "epochs": "epochs",
    "optimizer": "optimizer",
    "lr": "learning rate",
    "batch": "batch size",
    "scheduler": "scheduler",
    "loss": "loss",
    "seeds": "seeds",
    "warn_outside": "Warning: the runs differ outside model.*: {keys}. The homework changes only the model's "
                    "structure, so these runs are not a fair comparison.",
    "same_recipe": "Only model.* differs between the runs: every difference in accuracy comes from the structure.",
    "no_change": "the same config",
    "no_findings": "No two runs differ in exactly one key: train variants that change one thing at a time "
                    "to see what each change does.",
    "finding": "{change}: {d} ({pairs})",
    "seed_finding": "Another seed ({change}): {d} ({pairs}), the noise to expect between runs",
    "take_best": "The best model, {label}, reached {acc:.2f}%: {d} over the baseline",
    "take_best_change": "It changed: {changes}",
    "take_top": "The change that mattered most: {finding}",
    "take_edit": "(Edit: what you learned, and what you would try next)",
    "more_bars": "and {n} more runs (see the appendix)",
    "more_rows": "{n} more runs in the appendix",
    "not_completed": "{label}: {status} ({note})",
    "n_notes": "and {n} more runs not completed",
    "no_epoch": "No finished epoch yet: no curves",
    "no_curves": "No run has a finished epoch yet",
    # speaker notes
    "note_title": "Say what you set out to do: improve the baseline by changing only the model's structure. "
                  "{runs}; the best reached {acc}.",
    "note_setup": "Every run trained with the same recipe: {recipe}. {fair}",
    "note_changes": "Each bar is one run, sorted by accuracy; the grey bar is the baseline at {acc:.2f}%. "
                    "Read the three largest: {top}.",
    "note_curves": "The baseline against the best runs, epoch by epoch: {lines}.",
    "note_confusion": "{lines}",
    "note_mistakes": "The images the best model got wrong with the most confidence: are they hard even for you?",
    "note_findings": "Each finding compares runs that differ in exactly one key, so the difference is that "
                     "change's alone.",
    "note_takeaways": "Close with what you learned; edit these lines to your own words.",
    "note_appendix": "Backup slides: open these when someone asks about a run.",
    "note_table": "One row per run, best first: {columns}.",
    "note_run": "{label}: {facts}.",
    "note_sweep": "{line}",
    # the run's status, where it is not completed
    "status_running": "still training",
    "status_killed": "marked running, but its process is gone",
    "status_interrupted": "stopped early; continue it with mlcl-train resume",
    "status_incomplete": "no summary.json; results as far as metrics.csv goes",
    "status_broken": "summary.json is unreadable; results from metrics.csv",
    "status_diverged": "the training loss became NaN or infinite",
    "status_failed": "stopped by an error",
    "status_pruned": "a sweep stopped it early: it trailed the other trials",
    "status_unknown": "unknown status",
    "status_fact": "{status}, {done} of {planned} epochs done",
    "epoch_of": "epoch {done} of {planned}",
    "epoch_n": "epoch {epoch}",
    "acc_at": "{acc:.2f}% ({at})",
    "chosen_test": "test (no validation split: optimistic)",
    "chosen_val": "validation: {val:.2f}% val, {test:.2f}% test",
    "stopped_after": "after epoch {epoch}",
    "h_layer": "layer",
    "h_type": "type",
    "h_shape": "output shape",
    "h_params": "params",
    "total": "total",
    "no_layers": "No layer table: {why}",
    "no_config": "No layer table: {path} has no readable config.yaml",
    "no_config_yaml": "(no readable config.yaml)",
    "no_model_yaml": "(config.yaml has no model section)",
    "comparing": "{names}: comparing {n} runs",
    "n_more": "{n} more",
    "more_lines": "  ... ({n} more lines)",
    "curves_alt": "loss and accuracy of {label}",
    "same_all": "Same for all runs: ",
    "not_shown": "Not shown ({n}, see mlcl-train compare): ",
    # the best run's confusion matrix
    "confusion_plain": "Confusion matrix",
    "eval_acc": "Its weights {after} classify {acc:.2f}% of {count:,} test images right",
    "after_epoch": "after epoch {epoch}",
    "as_saved": "as last saved",
    "eval_partial": "The run is {status}, not completed: these are its last saved weights",
    "lowest": "Lowest accuracy: {classes}",
    "confused": "Most often confused (true \u2192 predicted): {pairs}",
    "no_weights": "No confusion matrix: {run} has no saved weights (model.pt) yet",
    "no_confusion": "No confusion matrix: {err}",
    "and_more": " and {n} more",
    "model_h": "Model",
    "layers_h": "Layers",
    "results_h": "Results",
    "appendix_page": "Each run's model, layers and curves",
    "made_by": "Made by mlcl-train {version} from the run folders: {folders}",
}

KO = {
    "setup": "실험 설정: 모든 실행이 같은 것",
    "changes": "각 변경의 효과",
    "curves": "테스트 정확도: 기준 모델과 가장 좋은 실행",
    "all_curves": "모든 실행의 테스트 정확도",
    "confusion": "혼동 행렬: {label}",
    "mistakes": "가장 확신한 오답: {label}",
    "findings": "발견한 것",
    "takeaways": "정리",
    "appendix": "부록",
    "appendix_sub": "비교표와 실행별 슬라이드",
    "comparison": "비교",
    "compared": "비교한 키: ",
    "one_run": "실행 1개",
    "one_config": "모든 실행의 설정이 같습니다",
    "on_val": ", 검증 세트로 선택",
    "best_line": "최고: {label}, 테스트 정확도 {acc:.2f}% (에폭 {epoch}{chosen})",
    "date": "%Y년 %m월 %d일",
    "sweep": "스윕 {name}",
    "sweep_params": "스윕 {name}: 키별 정확도",
    "points": "{d:+.1f}%p",
    "pairs": "{n}쌍",
    "pair": "1쌍",
    "baseline": "기준",
    "baseline_is": "기준 모델: {label}, 테스트 정확도 {acc:.2f}%",
    "best_is": "최고: {label}, {acc:.2f}% (기준 대비 {d:+.1f}%p)",
    "runs_n": "실행 {n}개",
    "run_1": "실행 1개",
    "accuracy": "최고 테스트 정확도 (%)",
    "epoch": "에폭",
    "dataset": "데이터셋",
    "train_images": "학습 이미지",
    "val_images": "검증 이미지",
    "epochs": "에폭",
    "optimizer": "옵티마이저",
    "lr": "학습률",
    "batch": "배치 크기",
    "scheduler": "스케줄러",
    "loss": "손실 함수",
    "seeds": "시드",
    "warn_outside": "주의: model.* 밖에서도 실행이 다릅니다: {keys}. 과제는 모델 구조만 바꾸므로 공정한 비교가 "
                    "아닙니다.",
    "same_recipe": "실행 사이의 차이는 model.* 뿐입니다: 정확도 차이는 모두 구조에서 나옵니다.",
    "no_change": "같은 설정",
    "no_findings": "키 하나만 다른 실행 쌍이 없습니다: 한 번에 하나씩 바꾼 실행을 학습하면 각 변경의 효과가 보입니다.",
    "finding": "{change}: {d} ({pairs})",
    "seed_finding": "다른 시드 ({change}): {d} ({pairs}), 실행 사이에 예상되는 잡음",
    "take_best": "최고 모델 {label}: {acc:.2f}%, 기준 대비 {d}",
    "take_best_change": "바꾼 것: {changes}",
    "take_top": "가장 큰 효과를 낸 변경: {finding}",
    "take_edit": "(수정하세요: 배운 것, 다음에 해 볼 것)",
    "more_bars": "그 밖의 실행 {n}개 (부록 참고)",
    "more_rows": "나머지 실행 {n}개는 부록에",
    "not_completed": "{label}: {status} ({note})",
    "n_notes": "완료되지 않은 실행 {n}개 더",
    "no_epoch": "끝난 에폭이 아직 없어 곡선이 없습니다",
    "no_curves": "끝난 에폭이 있는 실행이 아직 없습니다",
    "note_title": "목표를 말하세요: 모델 구조만 바꿔서 기준 모델을 개선하기. {runs}; 최고 정확도는 {acc}.",
    "note_setup": "모든 실행은 같은 학습 방법을 썼습니다: {recipe}. {fair}",
    "note_changes": "막대 하나가 실행 하나이며 정확도 순입니다. 회색 막대가 기준 모델({acc:.2f}%)입니다. "
                    "가장 큰 세 개: {top}.",
    "note_curves": "에폭별로 기준 모델과 가장 좋은 실행을 비교합니다: {lines}.",
    "note_confusion": "{lines}",
    "note_mistakes": "최고 모델이 가장 확신하며 틀린 이미지입니다. 사람이 봐도 어려운가요?",
    "note_findings": "각 발견은 키 하나만 다른 실행끼리 비교한 것이므로 차이는 그 변경 하나의 효과입니다.",
    "note_takeaways": "배운 것으로 마무리하세요. 이 줄들을 자신의 말로 고치세요.",
    "note_appendix": "예비 슬라이드: 실행에 대한 질문이 나오면 여세요.",
    "note_table": "실행마다 한 행, 최고부터: {columns}.",
    "note_run": "{label}: {facts}.",
    "note_sweep": "{line}",
    "status_running": "아직 학습 중",
    "status_killed": "실행 중으로 표시됐지만 프로세스가 없습니다",
    "status_interrupted": "중간에 멈췄습니다; mlcl-train resume으로 이어서 학습하세요",
    "status_incomplete": "summary.json이 없습니다; metrics.csv에 있는 만큼의 결과",
    "status_broken": "summary.json을 읽을 수 없습니다; metrics.csv의 결과",
    "status_diverged": "학습 손실이 NaN 또는 무한대가 되었습니다",
    "status_failed": "오류로 멈췄습니다",
    "status_pruned": "스윕이 일찍 멈췄습니다: 다른 시도보다 뒤처졌습니다",
    "status_unknown": "알 수 없는 상태",
    "status_fact": "{status}, 에폭 {done}/{planned} 완료",
    "epoch_of": "에폭 {done}/{planned}",
    "epoch_n": "에폭 {epoch}",
    "acc_at": "{acc:.2f}% ({at})",
    "chosen_test": "테스트 (검증 세트 없음: 낙관적)",
    "chosen_val": "검증 세트: 검증 {val:.2f}%, 테스트 {test:.2f}%",
    "stopped_after": "에폭 {epoch} 후",
    "h_layer": "레이어",
    "h_type": "종류",
    "h_shape": "출력 형태",
    "h_params": "파라미터",
    "total": "합계",
    "no_layers": "레이어 표 없음: {why}",
    "no_config": "레이어 표 없음: {path}에 읽을 수 있는 config.yaml이 없습니다",
    "no_config_yaml": "(읽을 수 있는 config.yaml 없음)",
    "no_model_yaml": "(config.yaml에 model 섹션이 없습니다)",
    "comparing": "{names}: 실행 {n}개 비교",
    "n_more": "{n}개 더",
    "more_lines": "  ... ({n}줄 더)",
    "curves_alt": "{label}의 손실과 정확도",
    "same_all": "모든 실행에서 같음: ",
    "not_shown": "표에 없는 키 ({n}개, mlcl-train compare 참고): ",
    "confusion_plain": "혼동 행렬",
    "eval_acc": "{after} 가중치가 테스트 이미지 {count:,}장 중 {acc:.2f}%를 맞힙니다",
    "after_epoch": "에폭 {epoch} 이후의",
    "as_saved": "마지막으로 저장된",
    "eval_partial": "이 실행은 {status} 상태로 완료되지 않았습니다: 마지막으로 저장된 가중치입니다",
    "lowest": "정확도가 가장 낮은 클래스: {classes}",
    "confused": "가장 자주 혼동한 쌍 (정답 \u2192 예측): {pairs}",
    "no_weights": "혼동 행렬 없음: {run}에 저장된 가중치(model.pt)가 아직 없습니다",
    "no_confusion": "혼동 행렬 없음: {err}",
    "and_more": " 외 {n}개",
    "model_h": "모델",
    "layers_h": "레이어",
    "results_h": "결과",
    "appendix_page": "실행별 모델, 레이어와 곡선",
    "made_by": "mlcl-train {version}이 실행 폴더에서 만든 페이지: {folders}",
}

FACTS_KO = {
    "status": "상태", "final accuracy": "최종 정확도", "best accuracy": "최고 정확도",
    "best epoch chosen on": "최고 에폭 선택 기준", "early stop": "조기 종료", "final test loss": "최종 테스트 손실",
    "parameters": "파라미터 수", "time per epoch": "에폭당 시간", "folder": "폴더",
}

STATUS_KO = {
    "completed": "완료", "running": "학습 중", "interrupted": "중단됨", "killed": "프로세스 없음",
    "incomplete": "결과 불완전", "broken": "요약 손상", "diverged": "발산", "failed": "실패",
    "pruned": "조기 중단(스윕)",
}


CHART_KO = {  # the curves' own words (inspect/plot.py's curves_figure), in Korean
    "Test accuracy": "테스트 정확도", "Test accuracy (val dotted)": "테스트 정확도 (검증은 점선)",
    "accuracy (%)": "정확도 (%)", "epoch": "에폭", "Loss": "손실", "mean loss per image": "이미지당 평균 손실",
    "test loss": "테스트 손실", "train loss": "학습 손실", "validation": "검증",
    "best epoch (chosen on val; test shown)": "최고 에폭 (검증으로 선택, 테스트 표시)",
    "The {most} runs with the best test accuracy, of {finished}":
        "테스트 정확도가 가장 높은 {most}개 실행 (전체 {finished}개)",
    "predicted": "예측", "true": "정답", "share of the true class": "정답 클래스 중 비율",
    "true {t}\npred {p} ({c})": "정답 {t}\n예측 {p} ({c})", "no wrong predictions": "틀린 예측 없음",
    "confusion matrix ({acc}% correct)": "혼동 행렬 (정확도 {acc}%)",
    "the {k} most confident mistakes of {n}": "오답 {n}개 중 가장 확신한 {k}개", "none wrong": "틀린 것 없음",
}


def chart_words(lang: str) -> Callable[[str], str]:
    """The function that gives a chart's English words in `lang`."""
    return (lambda text: CHART_KO.get(text, text)) if lang == "ko" else (lambda text: text)


def words(lang: str) -> Callable[..., str]:
    """The function that gives a phrase in `lang`, filled in: say("points", d=1.5)."""
    table = KO if lang == "ko" else EN

    def say(key: str, **values: object) -> str:
        return table[key].format(**values)

    return say


def layer_headers(say: Callable[..., str]) -> list[str]:
    """The layer table's column names, as `mlcl-train summary` prints them, in say's language."""
    return [say("h_layer"), say("h_type"), say("h_shape"), say("h_params")]


def status_note(status: str, lang: str) -> str:
    """Why a run that is not completed looks as it does ("still training"), in `lang`; "" when completed."""
    table = KO if lang == "ko" else EN
    return "" if status == "completed" else table.get(f"status_{status}", table["status_unknown"])


def status_name(status: str, lang: str) -> str:
    """A run's status ("running") in `lang`."""
    return STATUS_KO.get(status, status) if lang == "ko" else status


def fact_name(name: str, lang: str) -> str:
    """A run's fact ("final accuracy") in `lang`."""
    return FACTS_KO.get(name, name) if lang == "ko" else name
